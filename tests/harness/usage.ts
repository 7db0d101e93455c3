/** The UsageError message `f` throws (fails the test if it throws nothing or something else). */
import { expect } from 'vitest';
import { UsageError } from '../../src/errors.js';

export function usageMessage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
}
