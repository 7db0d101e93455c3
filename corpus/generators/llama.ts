/**
 * Llama-shaped decoders with grouped-query attention and a KV cache, of any depth and width,
 * in the exporter forms the matcher supports:
 *
 *   decomposed      MatMul/Softmax attention, scale on the scores, additive mask (TorchScript eager)
 *   onnx-attention  the ONNX Attention op (opset 23) with the cache Concat and GQA repeat outside
 *
 * Weights are either small deterministic values held inline (runnable tests) or ranges of one
 * external data file that is created sparse (benchmarks at 8B/70B shapes: the file has the
 * real size but occupies no disk) or filled with seeded random values (GPU runs at scale, where
 * the weights must be real numbers). Weights, activations and the float inputs are float32, or
 * float16 throughout (dtype: 'float16'), as an exporter writes a half-precision model.
 */
import { closeSync, openSync, ftruncateSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { intAttr, intsAttr, floatAttr } from '../../src/ir/attribute.js';
import { GraphBuilder, emptyModel } from '../../src/ir/builder.js';
import type { Model } from '../../src/ir/model.js';
import { Tensor } from '../../src/ir/tensor.js';
import type { Value } from '../../src/ir/value.js';
import { DataType } from '../../src/ir/dtypes.js';
import { Op } from '../../src/onnx/ops.js';

export interface LlamaShape {
  readonly layers: number;
  readonly hidden: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly intermediate: number;
  readonly vocab: number;
}

export const SHAPES: Record<string, LlamaShape> = {
  tiny: { layers: 2, hidden: 64, heads: 4, kvHeads: 2, intermediate: 128, vocab: 256 },
  /** Llama-3.2-1B's layers with a 32k vocabulary: 1.1 B parameters, 4.4 GB in float32. */
  '1B': { layers: 16, hidden: 2048, heads: 32, kvHeads: 8, intermediate: 8192, vocab: 32000 },
  '8B': { layers: 32, hidden: 4096, heads: 32, kvHeads: 8, intermediate: 14336, vocab: 128256 },
  '70B': { layers: 80, hidden: 8192, heads: 64, kvHeads: 8, intermediate: 28672, vocab: 128256 },
};

export interface GenerateOptions {
  readonly form: 'decomposed' | 'onnx-attention';
  /**
   * inline: deterministic small values; external: one sparse file beside the model (all zeros);
   * random: one file of seeded random values, N(0, 1/fan_in)-like, beside the model.
   */
  readonly weights: 'inline' | 'external' | 'random';
  /** Element type of weights, activations and float inputs (default float32). */
  readonly dtype?: 'float32' | 'float16';
  /** For external weights: the folder the model will be saved in, and the data file name. */
  readonly dir?: string;
  readonly dataFile?: string;
}

export interface Generated {
  readonly model: Model;
  /** Bytes of weights (in the external file, or inline). */
  readonly weightBytes: number;
}

export function generateLlama(shape: LlamaShape, opts: GenerateOptions): Generated {
  const { hidden: E, heads: H, kvHeads: Hkv, intermediate: I, vocab: V } = shape;
  const D = E / H;
  const FT = opts.dtype === 'float16' ? DataType.FLOAT16 : DataType.FLOAT;
  const elementBytes = FT === DataType.FLOAT16 ? 2 : 4;
  const onDisk = opts.weights !== 'inline';
  const model = emptyModel(opts.form === 'onnx-attention' ? { '': 23 } : { '': 17 }, opts.form === 'onnx-attention' ? 10 : 8);
  const b = new GraphBuilder(model);
  let offset = 0;
  const dataFile = opts.dataFile ?? 'model.onnx.data';
  const dataPath = opts.dir ? resolve(join(opts.dir, dataFile)) : '';
  let seed = 1;
  const fd = onDisk ? openSync(dataPath, 'w') : -1;
  const weight = (name: string, dims: number[]): Value => {
    const count = dims.reduce((a, c) => a * c, 1);
    const scale = 1 / Math.sqrt(dims[0]!);
    if (onDisk) {
      const length = count * elementBytes;
      // 4096-aligned ranges, as the external data spec recommends.
      offset = Math.ceil(offset / 4096) * 4096;
      const t = new Tensor(name, FT, dims, { kind: 'external', path: dataPath, location: dataFile, offset, length });
      if (opts.weights === 'random') writeRandom(fd, offset, count, scale, seed++, FT);
      offset += length;
      return b.initializer(name, t);
    }
    const s = seed++;
    const values = Float32Array.from({ length: count }, (_, i) => Math.sin(s * 12.9898 + i * 78.233) * scale);
    return b.initializer(name, Tensor.fromFloat32(name, FT, dims, values));
  };
  const i64 = (name: string, values: number[]): Value => b.constI64(name, [values.length], values);
  const f32 = (name: string, value: number): Value => b.initializer(name, Tensor.fromFloat32(name, FT, [], [value]));

  const ids = b.input('input_ids', DataType.INT64, ['batch', 'seq']);
  const mask = b.input('attention_mask', FT, ['batch', 1, 'seq', 'total_seq']);
  const cos = b.input('cos', FT, ['batch', 1, 'seq', D]);
  const sin = b.input('sin', FT, ['batch', 1, 'seq', D]);
  const embed = weight('model.embed_tokens.weight', [V, E]);
  let h = b.op(Op.Gather, [embed, ids], [], '/model/embed_tokens/Gather');

  const rmsNorm = (x: Value, scope: string): Value => {
    const w = weight(`${scope}.weight`, [E]);
    const sq = b.op(Op.Mul, [x, x], [], `/${scope.replaceAll('.', '/')}/Pow`);
    // ReduceMean takes its axes as an attribute before opset 18, as an input from 18 on.
    const mean =
      opts.form === 'onnx-attention'
        ? b.op(Op.ReduceMean, [sq, i64(`${scope}.axes`, [-1])], [intAttr('keepdims', 1)], `/${scope.replaceAll('.', '/')}/ReduceMean`)
        : b.op(Op.ReduceMean, [sq], [intsAttr('axes', [-1]), intAttr('keepdims', 1)], `/${scope.replaceAll('.', '/')}/ReduceMean`);
    const rs = b.op(Op.Sqrt, [b.op(Op.Add, [mean, f32(`${scope}.eps`, 1e-6)])]);
    return b.op(Op.Mul, [b.op(Op.Div, [x, rs]), w], [], `/${scope.replaceAll('.', '/')}/Mul`);
  };
  const rope = (x: Value, scope: string, n: number): Value => {
    const half = D / 2;
    const x1 = b.op(Op.Slice, [x, i64(`${n}.s0`, [0]), i64(`${n}.s1`, [half]), i64(`${n}.ax`, [3])], [], `${scope}/Slice`);
    const x2 = b.op(Op.Slice, [x, i64(`${n}.s2`, [half]), i64(`${n}.s3`, [D]), i64(`${n}.ax2`, [3])], [], `${scope}/Slice_1`);
    const rot = b.op(Op.Concat, [b.op(Op.Neg, [x2]), x1], [intAttr('axis', -1)], `${scope}/Concat`);
    return b.op(Op.Add, [b.op(Op.Mul, [x, cos], [], `${scope}/Mul`), b.op(Op.Mul, [rot, sin], [], `${scope}/Mul_1`)], [], `${scope}/Add`);
  };

  for (let l = 0; l < shape.layers; l++) {
    const scope = `model.layers.${l}`;
    const attn = `/model/layers.${l}/self_attn`;
    const x = rmsNorm(h, `${scope}.input_layernorm`);
    const proj = (name: string, out: number, heads: number): Value => {
      const y = b.op(Op.MatMul, [x, weight(`${scope}.self_attn.${name}.weight`, [E, out])], [], `${attn}/${name}/MatMul`);
      const r = b.op(Op.Reshape, [y, i64(`${attn}/${name}/shape`, [0, 0, heads, D])], [], `${attn}/${name}/Reshape`);
      return b.op(Op.Transpose, [r], [intsAttr('perm', [0, 2, 1, 3])], `${attn}/${name}/Transpose`);
    };
    const q = rope(proj('q_proj', H * D, H), `${attn}/q_rope`, l * 10 + 1);
    const kNew = rope(proj('k_proj', Hkv * D, Hkv), `${attn}/k_rope`, l * 10 + 2);
    const vNew = proj('v_proj', Hkv * D, Hkv);
    const pastK = b.input(`past_key_values.${l}.key`, FT, ['batch', Hkv, 'past_seq', D]);
    const pastV = b.input(`past_key_values.${l}.value`, FT, ['batch', Hkv, 'past_seq', D]);
    const k = b.op(Op.Concat, [pastK, kNew], [intAttr('axis', -2)], `${attn}/Concat_k`);
    const v = b.op(Op.Concat, [pastV, vNew], [intAttr('axis', -2)], `${attn}/Concat_v`);
    b.output(k, `present.${l}.key`);
    b.output(v, `present.${l}.value`);
    const repeat = (t: Value, n: string): Value =>
      H === Hkv
        ? t
        : b.op(Op.Reshape, [
            b.op(Op.Expand, [b.op(Op.Unsqueeze, [t, i64(`${attn}/${n}/axes`, [2])], [], `${attn}/${n}/Unsqueeze`), i64(`${attn}/${n}/rep`, [1, 1, H / Hkv, 1, 1])], [], `${attn}/${n}/Expand`),
            i64(`${attn}/${n}/gqa`, [0, H, -1, D]),
          ], [], `${attn}/${n}/Reshape`);
    let o: Value;
    if (opts.form === 'onnx-attention') {
      const node = b.node(Op.Attention, [q, repeat(k, 'repeat_k'), repeat(v, 'repeat_v'), mask], [floatAttr('scale', 1 / Math.sqrt(D))], { name: `${attn}/Attention` });
      node.metadataProps.push(['pkg.torch.onnx.name_scopes', `['', 'model', 'model.layers.${l}', 'model.layers.${l}.self_attn', 'scaled_dot_product_attention']`]);
      o = node.output(0);
    } else {
      const kt = b.op(Op.Transpose, [repeat(k, 'repeat_k')], [intsAttr('perm', [0, 1, 3, 2])], `${attn}/Transpose_k`);
      const s = b.op(Op.Mul, [b.op(Op.MatMul, [q, kt], [], `${attn}/MatMul`), f32(`${attn}/scale`, 1 / Math.sqrt(D))], [], `${attn}/Mul`);
      const p = b.op(Op.Softmax, [b.op(Op.Add, [s, mask], [], `${attn}/Add_mask`)], [intAttr('axis', -1)], `${attn}/Softmax`);
      o = b.op(Op.MatMul, [p, repeat(v, 'repeat_v')], [], `${attn}/MatMul_1`);
    }
    const merged = b.op(Op.Reshape, [b.op(Op.Transpose, [o], [intsAttr('perm', [0, 2, 1, 3])], `${attn}/Transpose_o`), i64(`${attn}/merge`, [0, 0, E])], [], `${attn}/Reshape_o`);
    h = b.op(Op.Add, [h, b.op(Op.MatMul, [merged, weight(`${scope}.self_attn.o_proj.weight`, [H * D, E])], [], `${attn}/o_proj/MatMul`)]);
    const m = rmsNorm(h, `${scope}.post_attention_layernorm`);
    const mlp = `/model/layers.${l}/mlp`;
    const gate = b.op(Op.MatMul, [m, weight(`${scope}.mlp.gate_proj.weight`, [E, I])], [], `${mlp}/gate_proj/MatMul`);
    const up = b.op(Op.MatMul, [m, weight(`${scope}.mlp.up_proj.weight`, [E, I])], [], `${mlp}/up_proj/MatMul`);
    const act = b.op(Op.Mul, [b.op(Op.Mul, [gate, b.op(Op.Sigmoid, [gate])]), up]);
    h = b.op(Op.Add, [h, b.op(Op.MatMul, [act, weight(`${scope}.mlp.down_proj.weight`, [I, E])], [], `${mlp}/down_proj/MatMul`)]);
  }
  const logits = b.op(Op.MatMul, [rmsNorm(h, 'model.norm'), weight('lm_head.weight', [E, V])], [], '/lm_head/MatMul');
  b.output(logits, 'logits');
  // Graph outputs first (logits, then the cache), as exporters order them.
  const outs = model.graph.outputs;
  outs.unshift(outs.pop()!);
  if (onDisk) {
    ftruncateSync(fd, offset);
    closeSync(fd);
  }
  return { model, weightBytes: onDisk ? offset : 0 };
}

/**
 * count seeded pseudo-random values (uniform, variance scale²) at offset of the open file, in
 * chunks: an 8B model's 16 GB never sit in memory at once.
 */
function writeRandom(fd: number, offset: number, count: number, scale: number, seed: number, type: DataType): void {
  const CHUNK = 1 << 22;
  let x = (seed * 0x9e3779b1) >>> 0 || 1;
  const amp = scale * Math.sqrt(3);
  // float16: sign, a random exponent in the 4 octaves below amp, a random mantissa, assembled as
  // bits (an 8B model has 8e9 weights: a float-to-half conversion each would take minutes).
  const top = Math.max(1, Math.min(30, Math.floor(Math.log2(amp)) + 15));
  for (let done = 0; done < count; done += CHUNK) {
    const n = Math.min(CHUNK, count - done);
    const out = type === DataType.FLOAT16 ? new Uint16Array(n) : new Float32Array(n);
    const half = type === DataType.FLOAT16;
    for (let i = 0; i < n; i++) {
      // xorshift32: fast and deterministic; quality is ample for weights nobody trains.
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = half ? ((x >>> 12) & 0x8000) | (Math.max(1, top - ((x >>> 10) & 3)) << 10) | (x & 0x3ff) : ((x / 0x100000000) * 2 - 1) * amp;
    }
    writeSync(fd, new Uint8Array(out.buffer), 0, out.byteLength, offset + done * out.BYTES_PER_ELEMENT);
  }
}
