/**
 * transform_config in a rule file: compressed-tensors' TransformConfig shape (TransformScheme,
 * TransformArgs, as llm-compressor's SpinQuantModifier(rotations=["R3"]) writes it) is accepted
 * and written back into quantization_config.json in the same serialization; what ctc cannot
 * apply is refused naming the key and the reason.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ruleSetConfig } from '../../src/emit/config.js';
import { RuleError } from '../../src/errors.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { parseRuleSet } from '../../src/rules/schema.js';
import { ctc } from '../harness/cli.js';
import { corpusModel } from '../harness/paths.js';

/** SpinQuantModifier's R3 scheme for a head dim of 64, as compressed-tensors serializes it. */
const R3 = {
  type: 'hadamard',
  apply: [
    { targets: ['re:.*self_attn$'], location: 'q_attn', inverse: false, ignore: [] },
    { targets: ['re:.*self_attn$'], location: 'k_cache', inverse: false, ignore: [] },
  ],
  randomize: false,
  requires_grad: false,
  head_dim: 64,
  precision: 'torch.float64',
};
const KV = { num_bits: 4, type: 'int', strategy: 'tensor', symmetric: true, dynamic: false, observer: 'static_minmax' };
const file = (scheme: Record<string, unknown>) => ({ kv_cache_scheme: KV, transform_config: { config_groups: { R3: scheme } } });
const parse = (json: unknown) => parseRuleSet(json, 'r', 'r.json');
const refused = (scheme: Record<string, unknown>, path: string, why: RegExp) => {
  try {
    parse(file(scheme));
  } catch (e) {
    expect(e).toBeInstanceOf(RuleError);
    expect((e as Error).message).toContain(`r.json: transform_config.config_groups.R3.${path}`);
    expect((e as Error).message).toMatch(why);
    return;
  }
  throw new Error('accepted');
};

describe('transform_config', () => {
  it("SpinQuant R3 as llm-compressor writes it is accepted and written back unchanged", () => {
    const config = ruleSetConfig(parse(file(R3)), 'LlamaAttention') as { transform_config: unknown };
    expect(config.transform_config).toEqual({ config_groups: { R3 } });
  });

  it('defaults as compressed-tensors fills them; a single target string is wrapped', () => {
    const rules = parse(file({ type: 'hadamard', head_dim: 32, apply: [{ targets: 'attention', location: 'q_attn' }, { targets: 'attention', location: 'k_cache' }] }));
    const s = rules.transformConfig!.config_groups['R3']!;
    expect(s).toMatchObject({ randomize: false, requires_grad: false, precision: 'torch.float32', head_dim: 32 });
    expect(s.apply[0]).toEqual({ targets: ['attention'], location: 'q_attn', inverse: false, ignore: [] });
  });

  it('precision is written as compressed-tensors serializes a torch dtype', () => {
    expect(parse(file({ ...R3, precision: 'float64' })).transformConfig!.config_groups['R3']!.precision).toBe('torch.float64');
  });

  it('refuses what ctc cannot apply, naming the key', () => {
    refused({ ...R3, type: 'random-hadamard' }, 'type', /random generator/);
    refused({ ...R3, randomize: true }, 'randomize', /random generator/);
    refused({ ...R3, head_dim: 48 }, 'head_dim', /not a power of two/);
    refused({ ...R3, precision: 'torch.bfloat16' }, 'precision', /float32 or torch.float64/);
    refused({ ...R3, apply: [{ targets: ['Linear'], location: 'input' }, ...R3.apply] }, 'apply.0.location', /R1, R2, R4/);
    refused({ ...R3, apply: [{ targets: ['x'], location: 'v_cache' }] }, 'apply.0.location', /not a TransformLocation/);
    refused({ ...R3, apply: [R3.apply[0]] }, 'apply', /changes Q·Kᵀ/);
    refused({ ...R3, apply: [] }, 'apply', /applies nowhere/);
    refused({ ...R3, apply: [{ ...R3.apply[0], targets: ['re:(a'] }, R3.apply[1]] }, 'apply.0.targets.0', /invalid regular expression/);
  });

  it('an unknown key is refused as compressed-tensors does (extra="forbid")', () => {
    expect(() => parse(file({ ...R3, seed: 1 }))).toThrow(/transform_config\.config_groups\.R3\.seed: Extra inputs are not permitted/);
    expect(() => parse(file({ ...R3, apply: [{ ...R3.apply[0], where: 1 }, R3.apply[1]] }))).toThrow(/apply\.0\.where: Extra inputs are not permitted/);
  });

  it('the built-in r3 rule sets carry R3 at q_attn and k_cache of every attention, head_dim from the model', () => {
    for (const name of ['int4-kv-r3', 'fp8-kv-r3']) {
      const s = loadRuleSet(name).transformConfig!.config_groups['R3']!;
      expect(s.type).toBe('hadamard');
      expect(s.head_dim).toBeNull();
      expect(s.apply.map((a) => [a.location, a.targets])).toEqual([['q_attn', ['attention']], ['k_cache', ['attention']]]);
    }
  });

  it('compile writes the transform_config it applied (head_dim resolved to the model\'s), and refuses --checkpoint (vLLM does not apply R3)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctc-r3-'));
    const ok = await ctc('compile', corpusModel('gpt2-bytes-ts-eager'), '--rules', 'fp8-kv-r3', '--calib-sets', '0', '-o', join(dir, 'out'), '--quiet');
    expect(ok.code).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'out', 'quantization_config.json'), 'utf8')) as { transform_config: { config_groups: Record<string, { head_dim: number; apply: { targets: string[] }[] }> } };
    const r3 = config.transform_config.config_groups['R3']!;
    expect(r3.head_dim).toBe(32);
    expect(r3.apply[0]!.targets).toEqual([0, 1, 2, 3].map((l) => `model.transformer.h.${l}.attn`));
    const r = await ctc('compile', corpusModel('llama-gqa-bytes-ts-eager'), '--rules', 'fp8-kv-r3', '--calib-sets', '0', '--checkpoint', join(corpusModel('llama-gqa-bytes-ts-eager'), '..', 'hf'), '-o', join(dir, 'ckpt'), '--quiet');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--checkpoint: the rule set "fp8-kv-r3" rotates Q and K .* vLLM does not apply/);
  });
});
