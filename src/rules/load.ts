/**
 * Rule sets by name (the built-in files in rules/) or from a user's file (JSON or YAML).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RuleError, readFileChecked } from '../errors.js';
import { parseRuleSet } from './schema.js';
import type { RuleSet } from './schema.js';
import { parseRecipeYaml } from './yaml.js';

/**
 * rules/ in the package, found by walking up from the file that runs: src/rules/load.ts (tests),
 * dist/src/rules/load.js (tsc's output) or dist/ctc.js (the bundled program).
 */
function builtinDir(): string {
  for (let dir = import.meta.dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'rules', 'fp8-head.json'))) return join(dir, 'rules');
    if (dirname(dir) === dir) throw new Error('the built-in rules/ folder is missing from the package');
  }
}

export function builtinRuleNames(): string[] {
  return readdirSync(builtinDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();
}

export function builtinRuleFile(name: string): string {
  return join(builtinDir(), `${name}.json`);
}

/** A built-in name, or a path to a rule file: JSON, or YAML (llm-compressor's recipe shape or the rule-file shape). */
export function loadRuleSet(nameOrFile: string): RuleSet {
  const builtins = builtinRuleNames();
  const isBuiltin = builtins.includes(nameOrFile);
  const file = isBuiltin ? builtinRuleFile(nameOrFile) : nameOrFile;
  if (!isBuiltin && !existsSync(file)) {
    const near = builtins.filter((b) => b.startsWith(nameOrFile.split('-')[0] ?? '') || nameOrFile.includes(b));
    throw new RuleError(
      `no built-in rule set or file named "${nameOrFile}". Built-in: ${builtins.join(', ')}${near.length ? ` (did you mean ${near.join(' or ')}?)` : ''}`,
    );
  }
  const name = isBuiltin ? nameOrFile : basename(file).replace(/\.(json|ya?ml)$/, '');
  if (/\.ya?ml$/.test(file)) {
    const recipe = parseRecipeYaml(readFileChecked(file).toString('utf8'), file);
    return parseRuleSet(recipe.json, name, file, recipe.locate);
  }
  const text = readFileChecked(file).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new RuleError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseRuleSet(json, name, file);
}
