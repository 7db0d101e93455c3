/**
 * The attention patterns, in the order they are tried. Frozen: nothing registers at run time.
 */
import { decomposedAttention } from './decomposed.js';
import { flexAttention } from './flex-attention.js';
import { foldedHeadsAttention } from './folded-heads.js';
import { msAttention } from './ms-attention.js';
import { msGroupQueryAttention } from './ms-group-query-attention.js';
import { msMultiHeadAttention } from './ms-multi-head-attention.js';
import { onnxAttention } from './onnx-attention.js';
import type { AttentionPattern } from './pattern.js';

export const ATTENTION_PATTERNS: readonly AttentionPattern[] = Object.freeze([
  decomposedAttention,
  foldedHeadsAttention,
  onnxAttention,
  msMultiHeadAttention,
  msGroupQueryAttention,
  msAttention,
  flexAttention,
]);

export type { AttentionPattern, SiteDraft } from './pattern.js';
