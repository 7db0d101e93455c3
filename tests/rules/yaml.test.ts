/**
 * YAML rule sets: llm-compressor's recipe shape (quant_stage → quant_modifiers →
 * QuantizationModifier) and the rule-file shape, validated by the one schema, with errors at the
 * line of the YAML node (line numbers counted by hand in the texts below).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRuleSet } from '../../src/rules/load.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';
import { vllmProblems } from '../harness/vllm-acceptance.js';

const dir = mkdtempSync(join(tmpdir(), 'ctc-yaml-'));
let n = 0;
const file = (text: string, ext = 'yaml'): string => {
  const f = join(dir, `r${n++}.${ext}`);
  writeFileSync(f, text);
  return f;
};
const fromJson = (json: unknown) => {
  const r = loadRuleSet(file(JSON.stringify(json), 'json'));
  return { configGroups: r.configGroups, kvCacheScheme: r.kvCacheScheme, ignore: r.ignore };
};
const fromYaml = (text: string) => {
  const r = loadRuleSet(file(text));
  return { configGroups: r.configGroups, kvCacheScheme: r.kvCacheScheme, ignore: r.ignore };
};

describe('llm-compressor recipes', () => {
  it("the KV-cache example recipe's kv_cache_scheme equals the same JSON rule file", () => {
    const yaml = `quant_stage:
  quant_modifiers:
    QuantizationModifier:
      kv_cache_scheme: {num_bits: 8, type: float, symmetric: true, strategy: tensor}
`;
    expect(fromYaml(yaml)).toEqual(fromJson({ kv_cache_scheme: { num_bits: 8, type: 'float', symmetric: true, strategy: 'tensor' } }));
  });
  it('an attention config group with ignore, any stage and modifier-group names', () => {
    const yaml = `my_stage:
  attention_modifiers:
    QuantizationModifier:
      ignore: [model.layers.1.self_attn]
      config_groups:
        attention:
          targets: ["re:.*self_attn$"]
          input_activations:
            num_bits: 8
            type: float
            strategy: attn_head
            observer: static_minmax
`;
    expect(fromYaml(yaml)).toEqual(
      fromJson({
        ignore: ['model.layers.1.self_attn'],
        config_groups: { attention: { targets: ['re:.*self_attn$'], input_activations: { num_bits: 8, type: 'float', strategy: 'attn_head', observer: 'static_minmax' } } },
      }),
    );
  });
  it('the rule-file shape written in YAML', () => {
    expect(fromYaml('kv_cache_scheme:\n  num_bits: 8\n  type: float\n  strategy: attn_head\n')).toEqual(fromJson({ kv_cache_scheme: { num_bits: 8, type: 'float', strategy: 'attn_head' } }));
  });
});

describe('YAML errors point at the line', () => {
  it("a schema error (the one validator's message) at the offending key", () => {
    const f = file(`quant_stage:
  quant_modifiers:
    QuantizationModifier:
      config_groups:
        attention:
          targets: [LlamaAttention]
          input_activations:
            num_bits: 8
            type: float
            strategy: channel
`);
    expect(() => loadRuleSet(f)).toThrow(`${f}:10: quant_stage.quant_modifiers.QuantizationModifier.config_groups.attention.input_activations.strategy: Channel quantization cannot be applied to attention`);
  });
  it('an unknown key inside the args, at that key', () => {
    const f = file(`kv_cache_scheme:
  num_bits: 8
  type: float
  colour: red
`);
    expect(() => loadRuleSet(f)).toThrow(`${f}:4: kv_cache_scheme.colour: Extra inputs are not permitted`);
  });
  it('invalid YAML (a key given twice)', () => {
    const f = file('kv_cache_scheme:\n  num_bits: 8\n  num_bits: 4\n');
    expect(() => loadRuleSet(f)).toThrow(`${f}:3: not valid YAML (Map keys must be unique)`);
  });
});

describe('weight quantization is refused with the reason', () => {
  it('the FP8 example recipe (Linear weights and activations, plus a KV scheme)', () => {
    const f = file(`quant_stage:
  quant_modifiers:
    QuantizationModifier:
      ignore: ["lm_head"]
      config_groups:
        group_0:
          weights: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}
          input_activations: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}
          targets: ["Linear"]
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}
`);
    expect(() => loadRuleSet(f)).toThrow(`${f}:7: quant_stage.quant_modifiers.QuantizationModifier.config_groups.group_0.weights: targets ["Linear"] and weights: weight quantization of linear layers is llm-compressor's job`);
  });
  it('weights on an attention group: compressed-tensors\' own message', () => {
    const f = file(`quant_stage:
  quant_modifiers:
    QuantizationModifier:
      config_groups:
        attention:
          targets: [LlamaAttention]
          weights: {num_bits: 8, type: float}
          input_activations: {num_bits: 8, type: float}
`);
    expect(() => loadRuleSet(f)).toThrow(`${f}:7: quant_stage.quant_modifiers.QuantizationModifier.config_groups.attention.weights: Cannot apply weight quantization to attention. Instead, target the (q|k|v)_proj submodule layers of attention`);
  });
  it('scheme: FP8 on attention says which part of FP8 attention can take', () => {
    const f = file(`quant_stage:
  quant_modifiers:
    QuantizationModifier:
      targets: [LlamaAttention]
      scheme: FP8
`);
    expect(() => loadRuleSet(f)).toThrow(/:5: .*QuantizationModifier\.scheme: preset FP8 sets weights \(float8 per tensor\) as well as activations, and compressed-tensors refuses it on attention: Cannot apply weight quantization to attention\. For FP8 attention, write a config group with only its activation part: targets: \["LlamaAttention"\], input_activations: \{num_bits: 8, type: float, strategy: tensor\}/);
  });
  it('scheme: W4A16 with the default targets (Linear)', () => {
    const f = file('s:\n  m_modifiers:\n    QuantizationModifier:\n      scheme: W4A16\n');
    expect(() => loadRuleSet(f)).toThrow(/:4: .*scheme: preset W4A16 on \["Linear"\] quantizes the weights of linear layers \(int4 groups of 128\)/);
  });
  it('a GPTQModifier', () => {
    const f = file('quant_stage:\n  quant_modifiers:\n    GPTQModifier:\n      scheme: W4A16\n');
    expect(() => loadRuleSet(f)).toThrow(/:3: quant_stage\.quant_modifiers\.GPTQModifier: GPTQModifier changes or quantizes weights/);
  });
});

describe('the CLI with YAML recipes', () => {
  it('compile --rules recipe.yaml quantizes as the same rule file in JSON would', async () => {
    const f = file(`quant_stage:
  quant_modifiers:
    QuantizationModifier:
      kv_cache_scheme: {num_bits: 8, type: float, strategy: attn_head}
`);
    const r = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', f, '--calib-sets', '0', '-o', join(dir, 'o'), '-q');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/4 of 4 attention site\(s\) quantized, 8 edges/);
    const scales = JSON.parse(readFileSync(join(dir, 'o', 'scales.json'), 'utf8'));
    expect(scales['model.model.layers.0.self_attn.k_scale'].shape).toEqual([2, 1, 1]);
  });
  it('ctc rules NAME --print-config: fp8-head, fp8-kv-head and a recipe give configs vLLM accepts', async () => {
    const withScales = new Map<string, number[]>();
    for (const name of ['fp8-head', 'fp8-kv-head', file('q:\n  x_modifiers:\n    QuantizationModifier:\n      config_groups:\n        g:\n          targets: [attention]\n          input_activations: {num_bits: 8, type: float, strategy: tensor}\n')]) {
      const r = await ctc('rules', name, '--print-config');
      expect(r.code, r.stderr).toBe(0);
      const config = JSON.parse(r.stdout);
      expect(vllmProblems({ config: { quantization_config: config }, tensors: withScales, attentionModules: [], numHeads: 6, numKvHeads: 2 }), name).toEqual([]);
      expect(config.quantization_status).toBe('compressed');
    }
    const head = JSON.parse((await ctc('rules', 'fp8-head', '--print-config', '--attention-class', 'Qwen2Attention')).stdout);
    expect(head.config_groups.group_0.targets).toEqual(['Qwen2Attention']);
    expect(head.kv_cache_scheme).toEqual(head.config_groups.group_0.input_activations);
    const kv = JSON.parse((await ctc('rules', 'fp8-kv-head', '--print-config')).stdout);
    expect(kv.config_groups).toEqual({});
    expect(kv.kv_cache_scheme).toMatchObject({ num_bits: 8, type: 'float', strategy: 'attn_head', symmetric: true });
  });
});
