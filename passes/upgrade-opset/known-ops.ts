/**
 * The operators of the default ONNX domain up to opset 21, by the version that introduced them
 * (onnx/onnx docs/Changelog.md). A node whose op is not here (an experimental op such as
 * ImageScaler, which ONNX removed, or a misspelling) has no defined meaning at the target, so
 * the upgrade refuses it rather than relabel it.
 */
const INTRODUCED: readonly (readonly [number, readonly string[]])[] = [
  [1, ['Abs', 'Add', 'And', 'ArgMax', 'ArgMin', 'AveragePool', 'BatchNormalization', 'Cast', 'Ceil', 'Clip',
    'Concat', 'Constant', 'Conv', 'ConvTranspose', 'DepthToSpace', 'Div', 'Dropout', 'Elu', 'Equal', 'Exp',
    'Flatten', 'Floor', 'GRU', 'Gather', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool',
    'Greater', 'HardSigmoid', 'Hardmax', 'Identity', 'If', 'InstanceNormalization', 'LRN', 'LSTM', 'LeakyRelu',
    'Less', 'Log', 'LogSoftmax', 'Loop', 'LpNormalization', 'LpPool', 'MatMul', 'Max', 'MaxPool', 'MaxRoiPool',
    'Mean', 'Min', 'Mul', 'Neg', 'Not', 'Or', 'PRelu', 'Pad', 'Pow', 'RNN', 'RandomNormal', 'RandomNormalLike',
    'RandomUniform', 'RandomUniformLike', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum',
    'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare',
    'Relu', 'Reshape', 'Selu', 'Shape', 'Sigmoid', 'Size', 'Slice', 'Softmax', 'Softplus', 'Softsign',
    'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tanh', 'Tile', 'TopK', 'Transpose', 'Unsqueeze',
    'Upsample', 'Xor']],
  [7, ['Acos', 'Asin', 'Atan', 'Cos', 'Multinomial', 'Sin', 'Tan']],
  [8, ['Expand', 'Scan']],
  [9, ['Acosh', 'Asinh', 'Atanh', 'Compress', 'ConstantOfShape', 'Cosh', 'Erf', 'EyeLike', 'IsNaN',
    'MaxUnpool', 'MeanVarianceNormalization', 'NonZero', 'OneHot', 'Scatter', 'Shrink', 'Sign', 'Sinh',
    'TfIdfVectorizer', 'Where']],
  [10, ['ConvInteger', 'DequantizeLinear', 'IsInf', 'MatMulInteger', 'Mod', 'NonMaxSuppression', 'QLinearConv',
    'QLinearMatMul', 'QuantizeLinear', 'Resize', 'ReverseSequence', 'RoiAlign', 'StringNormalizer',
    'ThresholdedRelu']],
  [11, ['BitShift', 'ConcatFromSequence', 'CumSum', 'Det', 'DynamicQuantizeLinear', 'GatherElements',
    'GatherND', 'Range', 'Round', 'ScatterElements', 'ScatterND', 'SequenceAt', 'SequenceConstruct',
    'SequenceEmpty', 'SequenceErase', 'SequenceInsert', 'SequenceLength', 'SplitToSequence', 'Unique']],
  [12, ['Celu', 'Einsum', 'GreaterOrEqual', 'LessOrEqual', 'NegativeLogLikelihoodLoss',
    'SoftmaxCrossEntropyLoss']],
  [14, ['HardSwish', 'Trilu']],
  [15, ['Bernoulli', 'CastLike', 'Optional', 'OptionalGetElement', 'OptionalHasElement']],
  [16, ['GridSample']],
  [17, ['BlackmanWindow', 'DFT', 'HammingWindow', 'HannWindow', 'LayerNormalization', 'MelWeightMatrix',
    'STFT', 'SequenceMap']],
  [18, ['BitwiseAnd', 'BitwiseNot', 'BitwiseOr', 'BitwiseXor', 'CenterCropPad', 'Col2Im', 'GroupNormalization',
    'Mish']],
  [19, ['DeformConv']],
  [20, ['AffineGrid', 'Gelu', 'ImageDecoder', 'RegexFullMatch', 'StringConcat', 'StringSplit']],
];

/** Op type -> the opset that introduced it. */
export const FIRST_VERSION: ReadonlyMap<string, number> = new Map(INTRODUCED.flatMap(([v, ops]) => ops.map((op) => [op, v] as const)));
