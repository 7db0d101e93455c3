/**
 * Every pass of passes/, each under the pass contract of pass.ts (name = its file's name):
 *
 *   upgrade-opset      in place   raise the opset, rewriting ops whose signature changed
 *   insert-observers   on a clone the observer graph for calibration; the model is left alone
 *   insert-qdq         in place   QuantizeLinear → DequantizeLinear on the quantized edges
 *   insert-dynamic-qdq in place   the same on dynamic edges, with scales computed in the graph
 *   cache-io           in place   past/present in the cache's storage type (--cache-io quantized)
 *   rotate-qk          in place   the Hadamard rotation of Q and K (transform_config, SpinQuant R3)
 *   center-k           in place   the calibrated key offset subtracted (ctc_extensions.k_cache_centering)
 */
import { centerK } from './center-k.js';
import type { CenterResult } from './center-k.js';
import { quantizeCacheIo } from './cache-io.js';
import type { CacheIoResult } from './cache-io.js';
import type { Site } from '../src/attention/site.js';
import { observe } from './insert-observers.js';
import type { ObservedResult } from './insert-observers.js';
import { insertQdq } from './insert-qdq.js';
import { insertDynamicQdq } from './insert-dynamic-qdq.js';
import type { DynamicQdqResult } from './insert-dynamic-qdq.js';
import type { QdqInput, QdqResult } from './insert-qdq.js';
import type { Pass, PassResult } from './pass.js';
import { upgradeOpset } from './upgrade-opset.js';
import { rotateQk } from './rotate-qk.js';
import type { RotateResult } from './rotate-qk.js';
import type { CacheIoMode } from './cache-io.js';
import type { SiteRotation } from '../src/rules/targets.js';
import type { QuantEdge } from '../src/quant/edges.js';
import type { Value } from '../src/ir/value.js';

export const upgradeOpsetPass: Pass<[target: number, irVersion: number], PassResult> = {
  name: 'upgrade-opset',
  inPlace: true,
  run: upgradeOpset,
};

export const insertObserversPass: Pass<[edges: readonly QuantEdge[]], ObservedResult> = {
  name: 'insert-observers',
  inPlace: false,
  run: observe,
};

export const insertQdqPass: Pass<[inputs: readonly QdqInput[]], QdqResult> = {
  name: 'insert-qdq',
  inPlace: true,
  run: insertQdq,
};

export const insertDynamicQdqPass: Pass<[edges: readonly QuantEdge[]], DynamicQdqResult> = {
  name: 'insert-dynamic-qdq',
  inPlace: true,
  run: insertDynamicQdq,
};

export const cacheIoPass: Pass<[sites: readonly Site[]], CacheIoResult> = {
  name: 'cache-io',
  inPlace: true,
  run: quantizeCacheIo,
};

export const rotateQkPass: Pass<[rotations: ReadonlyMap<Site, SiteRotation>, cacheIo: CacheIoMode], RotateResult> = {
  name: 'rotate-qk',
  inPlace: true,
  run: rotateQk,
};

export const centerKPass: Pass<[offsets: ReadonlyMap<Site, Float64Array>, rotated: ReadonlyMap<Value, Value>, cacheIo: CacheIoMode], CenterResult> = {
  name: 'center-k',
  inPlace: true,
  run: centerK,
};

export const PASSES: readonly Pass<never, PassResult>[] = [upgradeOpsetPass, insertObserversPass, insertQdqPass, insertDynamicQdqPass, cacheIoPass, rotateQkPass, centerKPass];
