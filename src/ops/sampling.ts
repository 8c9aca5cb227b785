import argmaxPartialSource from '../../kernels/argmax_partial.wgsl?raw';
import argmaxReduceSource from '../../kernels/argmax_reduce.wgsl?raw';
import topKMergeSource from '../../kernels/top_k_merge.wgsl?raw';
import topKPartialSource from '../../kernels/top_k_partial.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, type Gpu, params, type Recorder } from '../gpu';

/**
 * Sampling helpers over one row of logits, in two passes each (per-workgroup candidates, then one
 * workgroup merging them), so that only the answer, not the vocabulary, is read back to the CPU.
 * Order everywhere is llama.cpp's: larger value first, ties to the lower index; NaN ranks below −∞.
 */

const argmaxPartial = { name: 'argmax_partial', source: argmaxPartialSource };
const argmaxReduce = { name: 'argmax_reduce', source: argmaxReduceSource };
const topKPartial = { name: 'top_k_partial', source: topKPartialSource };
const topKMerge = { name: 'top_k_merge', source: topKMergeSource };

const ARGMAX_WG = 256;
/** At most this many argmax candidates (the reduce workgroup's size): plenty of parallelism for 151936. */
const ARGMAX_MAX_GROUPS = 256;
/**
 * Elements each argmax invocation scans before another workgroup is worth starting: 16 gives 38
 * workgroups for 151936 logits, plenty to keep a GPU's memory busy for a 600 KB read, while each
 * workgroup's reduction (8 barriers) is paid fewer times.
 */
const ARGMAX_PER_INVOCATION = 16;

/** The largest k topK supports. */
export const TOP_K_MAX = 128;
const TOP_K_WG = 256;
/** Entries sorted in workgroup memory at once (2 u32 each: 16 KiB, the WebGPU minimum limit). */
const TOP_K_CHUNK = 2048;
/** At most this many partial lists; also the merge workgroup's size (one list per invocation). */
const TOP_K_MAX_GROUPS = 128;

const CANDIDATE_BYTES = 8; // vec2<u32>: order key, index
const SCRATCH_BYTES = Math.max(ARGMAX_MAX_GROUPS, TOP_K_MAX_GROUPS * TOP_K_MAX) * CANDIDATE_BYTES;

/**
 * The candidates buffer both ops share, one per device, created on first use and kept (128 KiB). Sharing
 * is safe because work runs in submission order and each op records its two passes back to back: the
 * merge has read the candidates before any later op's first pass overwrites them.
 */
const scratchBuffers = new WeakMap<Gpu, GPUBuffer>();
function scratchFor(gpu: Gpu): GPUBuffer {
  let buffer = scratchBuffers.get(gpu);
  if (!buffer) {
    buffer = gpu.allocator.createBuffer(SCRATCH_BYTES, 'sampling candidates');
    scratchBuffers.set(gpu, buffer);
  }
  return buffer;
}

export interface ArgmaxArgs {
  /** One row of `length` logits (activations). */
  logits: GPUBuffer;
  length: number;
  /** Receives the winning index as one u32 (4 bytes). */
  out: GPUBuffer;
}

/** out[0] = the index of the largest logit (greedy decoding). A row of only NaN gives 0, as in llama.cpp. */
export function argmax(rec: Recorder, { logits, length, out }: ArgmaxArgs): void {
  const what = 'argmax';
  checkLogits(rec, what, logits, length);
  if (out.size < 4) throw new InvalidArgumentError(`${what}: out holds ${out.size} bytes, one u32 needs 4`);
  const groups = Math.min(ARGMAX_MAX_GROUPS, Math.ceil(length / (ARGMAX_WG * ARGMAX_PER_INVOCATION)));
  const scratch = scratchFor(rec.gpu);
  const constants = { WG: ARGMAX_WG };
  const partial = rec.gpu.pipelines.get(argmaxPartial, { precision: rec.gpu.precision, constants });
  rec.dispatch(partial, params().u32(length).u32(groups), [logits, scratch], [groups]);
  const reduce = rec.gpu.pipelines.get(argmaxReduce, { precision: rec.gpu.precision, constants });
  rec.dispatch(reduce, params().u32(groups), [scratch, out], [1]);
}

export interface TopKArgs {
  /** One row of `length` logits (activations). */
  logits: GPUBuffer;
  length: number;
  /** 1 ≤ k ≤ min(length, TOP_K_MAX). */
  k: number;
  /** Receives the k largest values, as f32 whatever the activation precision, largest first. */
  outValues: GPUBuffer;
  /** Receives their indices, as u32, in the same order. */
  outIndices: GPUBuffer;
}

/** The k largest logits and their indices, sorted descending (ties: lower index first). */
export function topK(rec: Recorder, { logits, length, k, outValues, outIndices }: TopKArgs): void {
  const what = 'topK';
  checkLogits(rec, what, logits, length);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(length, TOP_K_MAX)) {
    throw new InvalidArgumentError(`${what}: k ${k} must be an integer from 1 to min(length ${length}, ${TOP_K_MAX})`);
  }
  if (outValues.size < 4 * k) throw new InvalidArgumentError(`${what}: outValues holds ${outValues.size} bytes, ${k} f32 need ${4 * k}`);
  if (outIndices.size < 4 * k) throw new InvalidArgumentError(`${what}: outIndices holds ${outIndices.size} bytes, ${k} u32 need ${4 * k}`);
  // Each partial workgroup keeps its best k entries at the front of its sort buffer and loads CHUNK − k
  // new ones per step: one step per workgroup, up to TOP_K_MAX_GROUPS workgroups.
  const groups = Math.min(TOP_K_MAX_GROUPS, Math.ceil(length / (TOP_K_CHUNK - k)));
  const scratch = scratchFor(rec.gpu);
  const partial = rec.gpu.pipelines.get(topKPartial, { precision: rec.gpu.precision, constants: { WG: TOP_K_WG, CHUNK: TOP_K_CHUNK } });
  rec.dispatch(partial, params().u32(length).u32(groups).u32(k), [logits, scratch], [groups]);
  const merge = rec.gpu.pipelines.get(topKMerge, { precision: rec.gpu.precision, constants: { WG: TOP_K_MAX_GROUPS } });
  rec.dispatch(merge, params().u32(groups).u32(k), [scratch, outValues, outIndices], [1]);
}

function checkLogits(rec: Recorder, what: string, logits: GPUBuffer, length: number): void {
  if (!Number.isInteger(length) || length <= 0) throw new InvalidArgumentError(`${what}: length ${length} must be a positive integer`);
  const bytes = length * bytesPerActivation(rec.gpu);
  if (logits.size < bytes) throw new InvalidArgumentError(`${what}: logits holds ${logits.size} bytes, ${length} activations need ${bytes}`);
}
