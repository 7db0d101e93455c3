"""The zoo's model families: tiny random Hugging Face configs, built in code (no hub access).

Each entry names a transformers model_type, the Auto class that builds it, the kind of model
(what inputs the export takes, what sites and cache ctc should find) and the config keys that
make it tiny: hidden 64, 2 layers, vocabulary 128, small MLPs. A key a config does not know
is only stored as an attribute, so names are given the way each config class spells them.
The forms a family brings to the zoo are in `forms` (they go into meta.json and the README).
"""

# Token ids every config gets, inside the tiny vocabulary (many configs default to ids > 128).
TOKENS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)

# Decoders in the Llama shape: grouped-query attention, 4 query heads over 2 kv heads of 16.
LLAMA_LIKE = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)

ENCODER = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
               num_attention_heads=4, max_position_embeddings=64, type_vocab_size=2)

VISION = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
              image_size=32, patch_size=8, num_channels=3)

BART_LIKE = dict(vocab_size=128, d_model=64, encoder_layers=2, decoder_layers=2,
                 encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=96,
                 decoder_ffn_dim=96, max_position_embeddings=64, decoder_start_token_id=2)


def fam(name, model_type, kind, config, forms, load=None):
    """load: extra from_config arguments, tried first (dropped if this transformers refuses them)."""
    return dict(name=name, model_type=model_type, kind=kind, config=config, forms=forms, load=load or {})


# MoE experts as a loop over nn.Linear experts: the grouped kernels use aten::histc, which
# TorchScript cannot export.
EAGER_EXPERTS = {'experts_implementation': 'eager'}


FAMILIES = [
    # decoders with past_key_values
    fam('llama', 'llama', 'decoder', LLAMA_LIKE, ['rope', 'gqa']),
    fam('mistral', 'mistral', 'decoder', {**LLAMA_LIKE, 'sliding_window': 6}, ['rope', 'gqa', 'sliding-window']),
    fam('qwen2', 'qwen2', 'decoder', LLAMA_LIKE, ['rope', 'gqa', 'qkv-bias']),
    fam('qwen3', 'qwen3', 'decoder', {**LLAMA_LIKE, 'head_dim': 16}, ['rope', 'gqa', 'qk-norm']),
    fam('gemma', 'gemma', 'decoder', {**LLAMA_LIKE, 'head_dim': 16, 'num_key_value_heads': 1}, ['rope', 'multi-query']),
    fam('gemma2', 'gemma2', 'decoder',
        {**LLAMA_LIKE, 'head_dim': 16, 'sliding_window': 6, 'attn_logit_softcapping': 50.0,
         'final_logit_softcapping': 30.0, 'query_pre_attn_scalar': 16},
        ['rope', 'gqa', 'softcap', 'sliding-window']),
    fam('gemma3', 'gemma3_text', 'decoder',
        {**LLAMA_LIKE, 'head_dim': 16, 'sliding_window': 6, 'query_pre_attn_scalar': 16,
         'layer_types': ['sliding_attention', 'full_attention']},
        ['rope', 'gqa', 'qk-norm', 'sliding-window']),
    fam('phi', 'phi', 'decoder', {**LLAMA_LIKE, 'num_key_value_heads': 4, 'partial_rotary_factor': 0.5},
        ['partial-rotary', 'qkv-bias']),
    fam('phi3', 'phi3', 'decoder', {**LLAMA_LIKE, 'original_max_position_embeddings': 64}, ['rope', 'gqa', 'fused-qkv']),
    fam('gpt2', 'gpt2', 'decoder', dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_inner=96, n_positions=64),
        ['learned-positions', 'fused-qkv']),
    fam('gpt_neox', 'gpt_neox', 'decoder',
        dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64, rotary_pct=0.25, partial_rotary_factor=0.25),
        ['partial-rotary', 'fused-qkv']),
    fam('gptj', 'gptj', 'decoder', dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_inner=96, n_positions=64, rotary_dim=8),
        ['partial-rotary', 'interleaved-rope']),
    fam('falcon', 'falcon', 'decoder',
        dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, multi_query=True,
             new_decoder_architecture=False, alibi=False, max_position_embeddings=64),
        ['rope', 'multi-query', 'fused-qkv']),
    fam('falcon-alibi', 'falcon', 'decoder',
        dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, multi_query=False,
             new_decoder_architecture=False, alibi=True, max_position_embeddings=64),
        ['alibi', 'fused-qkv']),
    fam('bloom', 'bloom', 'decoder', dict(vocab_size=128, hidden_size=64, n_layer=2, n_head=4), ['alibi', 'rank3-bmm', 'fused-qkv']),
    fam('mpt', 'mpt', 'decoder',
        dict(vocab_size=128, d_model=64, n_heads=4, n_layers=2, expansion_ratio=2, max_seq_len=64,
             attn_config={'alibi': True}),
        ['alibi', 'fused-qkv']),
    fam('opt', 'opt', 'decoder',
        dict(vocab_size=128, hidden_size=64, num_hidden_layers=2, ffn_dim=96, num_attention_heads=4,
             max_position_embeddings=64, word_embed_proj_dim=64),
        ['learned-positions']),
    fam('codegen', 'codegen', 'decoder',
        dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_inner=96, n_positions=64, n_ctx=64, rotary_dim=8),
        ['partial-rotary', 'fused-qkv']),
    fam('starcoder2', 'starcoder2', 'decoder', {**LLAMA_LIKE, 'sliding_window': None}, ['rope', 'gqa', 'qkv-bias']),
    fam('granite', 'granite', 'decoder',
        {**LLAMA_LIKE, 'attention_multiplier': 0.125, 'residual_multiplier': 0.5, 'embedding_multiplier': 2.0,
         'logits_scaling': 4.0},
        ['rope', 'gqa', 'attention-multiplier']),
    fam('olmo', 'olmo', 'decoder', {**LLAMA_LIKE, 'clip_qkv': 8.0}, ['rope', 'gqa', 'clip-qkv']),
    fam('olmo2', 'olmo2', 'decoder', LLAMA_LIKE, ['rope', 'gqa', 'qk-norm']),
    fam('stablelm', 'stablelm', 'decoder', {**LLAMA_LIKE, 'partial_rotary_factor': 0.25, 'use_qkv_bias': True},
        ['partial-rotary', 'gqa', 'qkv-bias']),
    fam('cohere', 'cohere', 'decoder', {**LLAMA_LIKE, 'use_qk_norm': False, 'logit_scale': 0.5}, ['rope', 'gqa', 'interleaved-rope']),
    fam('mixtral', 'mixtral', 'decoder', {**LLAMA_LIKE, 'num_local_experts': 4, 'num_experts_per_tok': 2, 'sliding_window': None},
        ['rope', 'gqa', 'moe'], EAGER_EXPERTS),
    fam('qwen2_moe', 'qwen2_moe', 'decoder',
        {**LLAMA_LIKE, 'num_experts': 4, 'num_experts_per_tok': 2, 'moe_intermediate_size': 48,
         'shared_expert_intermediate_size': 48, 'decoder_sparse_step': 1},
        ['rope', 'gqa', 'moe'], EAGER_EXPERTS),
    fam('persimmon', 'persimmon', 'decoder',
        dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
             max_position_embeddings=64, partial_rotary_factor=0.5, qk_layernorm=True),
        ['partial-rotary', 'fused-qkv', 'qk-norm']),
    fam('gpt_bigcode', 'gpt_bigcode', 'decoder',
        dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_inner=96, n_positions=64, multi_query=True),
        ['learned-positions', 'multi-query', 'fused-qkv']),
    # bidirectional encoders
    fam('bert', 'bert', 'encoder', ENCODER, ['bidirectional']),
    fam('roberta', 'roberta', 'encoder', {**ENCODER, 'pad_token_id': 1}, ['bidirectional']),
    fam('distilbert', 'distilbert', 'encoder',
        dict(vocab_size=128, dim=64, n_layers=2, n_heads=4, hidden_dim=96, max_position_embeddings=64),
        ['bidirectional']),
    fam('electra', 'electra', 'encoder', {**ENCODER, 'embedding_size': 64}, ['bidirectional']),
    fam('albert', 'albert', 'encoder', {**ENCODER, 'embedding_size': 32}, ['bidirectional', 'shared-layers']),
    fam('deberta_v2', 'deberta-v2', 'encoder',
        {**ENCODER, 'relative_attention': True, 'pos_att_type': ['p2c', 'c2p'], 'position_buckets': 8,
         'max_relative_positions': 16},
        ['bidirectional', 'disentangled-attention']),
    # encoder-decoders: self-attention in both, cross-attention in the decoder
    fam('t5', 't5', 'seq2seq',
        dict(vocab_size=128, d_model=64, d_kv=16, d_ff=96, num_layers=2, num_decoder_layers=2, num_heads=4,
             relative_attention_num_buckets=8, decoder_start_token_id=0),
        ['relative-bias', 'cross-attention']),
    fam('bart', 'bart', 'seq2seq', BART_LIKE, ['learned-positions', 'cross-attention']),
    fam('marian', 'marian', 'seq2seq', {**BART_LIKE, 'decoder_start_token_id': 0}, ['cross-attention']),
    fam('whisper', 'whisper', 'speech2seq',
        {**BART_LIKE, 'num_mel_bins': 16, 'max_source_positions': 8, 'max_target_positions': 32,
         'decoder_start_token_id': 1, 'suppress_tokens': [], 'begin_suppress_tokens': []},
        ['cross-attention', 'audio']),
    # vision transformers
    fam('vit', 'vit', 'vision', VISION, ['bidirectional', 'patches']),
    fam('deit', 'deit', 'vision', VISION, ['bidirectional', 'patches']),
    fam('dinov2', 'dinov2', 'vision', {**VISION, 'mlp_ratio': 2}, ['bidirectional', 'patches']),
    fam('beit', 'beit', 'vision', {**VISION, 'use_relative_position_bias': True}, ['bidirectional', 'relative-bias']),
    fam('clip_vision', 'clip_vision_model', 'vision', VISION, ['bidirectional', 'patches']),
]

# The exporters: (id, torch.onnx.export dynamo flag, opset, attention implementation).
EXPORTERS = [
    ('ts17', False, 17, 'eager'),
    ('dynamo18', True, 18, 'sdpa'),
    ('dynamo23', True, 23, 'sdpa'),
]
