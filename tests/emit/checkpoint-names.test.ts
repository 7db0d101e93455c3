/**
 * Names between an export and its checkpoint: the attention class from config.json's
 * architectures (transformers' naming: LlamaForCausalLM's attention is LlamaAttention), and the
 * wrapper prefix found by matching site names against the checkpoint's tensor names.
 */
import { describe, expect, it } from 'vitest';
import { attentionClassOf, checkpointPrefix } from '../../src/emit/checkpoint.js';
import type { InputCheckpoint } from '../../src/emit/checkpoint.js';

const ckpt = (keys: string[]): InputCheckpoint => ({ dir: 'ck', config: {}, shards: [], indexMetadata: {}, keys: new Set(keys), otherFiles: [] });

describe('attentionClassOf', () => {
  it.each([
    ['LlamaForCausalLM', 'LlamaAttention'],
    ['GPT2LMHeadModel', 'GPT2Attention'],
    ['Qwen2ForCausalLM', 'Qwen2Attention'],
    ['MistralForCausalLM', 'MistralAttention'],
    ['GPTNeoXForCausalLM', 'GPTNeoXAttention'],
    ['BertModel', 'BertAttention'],
  ])('%s → %s', (arch, cls) => {
    expect(attentionClassOf({ architectures: [arch] }, 'c.json')).toBe(cls);
  });
  it('an architecture it cannot read asks for --attention-class', () => {
    expect(() => attentionClassOf({ architectures: ['Frobnicator'] }, 'c.json')).toThrow('c.json: cannot tell the attention class from architectures ["Frobnicator"]; pass --attention-class NAME');
    expect(() => attentionClassOf({}, 'c.json')).toThrow(/architectures \[\]/);
  });
});

describe('checkpointPrefix', () => {
  const llama = ckpt(['model.layers.0.self_attn.q_proj.weight', 'model.layers.1.self_attn.q_proj.weight', 'model.norm.weight']);
  it('no prefix when the names already match', () => {
    expect(checkpointPrefix(['model.layers.0.self_attn', 'model.layers.1.self_attn'], llama, undefined)).toBe('');
  });
  it("the export's wrapper prefix, the shortest that fits every site", () => {
    expect(checkpointPrefix(['model.model.layers.0.self_attn', 'model.model.layers.1.self_attn'], llama, undefined)).toBe('model.');
    expect(checkpointPrefix(['a.b.model.layers.1.self_attn'], llama, undefined)).toBe('a.b.');
  });
  it('every site must fit: one that is not in the checkpoint fails naming both', () => {
    expect(() => checkpointPrefix(['model.model.layers.0.self_attn', 'model.model.layers.7.self_attn'], llama, undefined)).toThrow(
      /the attention sites of the model \(model\.model\.layers\.0\.self_attn, model\.model\.layers\.7\.self_attn, …\) are not modules of the checkpoint ck \(its attention modules: model\.layers\.0\.self_attn, model\.layers\.1\.self_attn, …\)/,
    );
  });
  it('--strip-prefix is taken when it fits, and checked', () => {
    expect(checkpointPrefix(['x.model.layers.0.self_attn'], llama, 'x.')).toBe('x.');
    expect(() => checkpointPrefix(['x.model.layers.0.self_attn'], llama, 'x.model.')).toThrow(/--strip-prefix "x\.model\.": site x\.model\.layers\.0\.self_attn does not become a module of the checkpoint ck/);
  });
});
