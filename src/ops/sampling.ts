import argmaxPartialSource from '../../kernels/argmax_partial.wgsl?raw';
import argmaxReduceSource from '../../kernels/argmax_reduce.wgsl?raw';
import topKCollectSource from '../../kernels/top_k_collect.wgsl?raw';
import topKHistogramSource from '../../kernels/top_k_histogram.wgsl?raw';
import topKSortSource from '../../kernels/top_k_sort.wgsl?raw';
import topKThresholdSource from '../../kernels/top_k_threshold.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { uniforms, type Gpu, type Recorder } from '../gpu';
import { needActivations, needBytes, needCount } from './checks';

/**
 * Sampling helpers over one row of logits, computed on the GPU so that only the answer, not the
 * vocabulary, is read back to the CPU. Order everywhere is llama.cpp's: larger value first, ties to the
 * lower index; NaN ranks below −∞. Every kernel compares floats through the same order key (a u32 that
 * sorts as the float does, NaN as 0).
 */

const argmaxPartial = { name: 'argmax_partial', source: argmaxPartialSource, uniforms: uniforms({ length: 'u32', groups: 'u32' }) };
const argmaxReduce = { name: 'argmax_reduce', source: argmaxReduceSource, uniforms: uniforms({ groups: 'u32' }) };
const topKHistogram = {
  name: 'top_k_histogram',
  source: topKHistogramSource,
  uniforms: uniforms({ length: 'u32', groups: 'u32', level: 'u32', index_shift: 'u32' }),
};
const topKThreshold = {
  name: 'top_k_threshold',
  source: topKThresholdSource,
  uniforms: uniforms({ k: 'u32', level: 'u32', index_shift: 'u32', capacity: 'u32' }),
};
const topKCollect = { name: 'top_k_collect', source: topKCollectSource, uniforms: uniforms({ length: 'u32', groups: 'u32', capacity: 'u32' }) };
const topKSort = { name: 'top_k_sort', source: topKSortSource, uniforms: uniforms({ k: 'u32' }) };

const ARGMAX_WG = 256;
/** At most this many argmax candidates (the reduce workgroup's size): plenty of parallelism for 151936. */
const ARGMAX_MAX_GROUPS = 256;
/**
 * Elements each argmax invocation scans before another workgroup is worth starting: 16 gives 38
 * workgroups for 151936 logits, plenty to keep a GPU's memory busy for a 600 KB read, while each
 * workgroup's reduction (8 barriers) is paid fewer times. top-k's full-row passes scan the same way.
 */
const ARGMAX_PER_INVOCATION = 16;

/** The largest k topK supports. */
export const TOP_K_MAX = 128;
const TOP_K_WG = 256;
/**
 * Most candidates top-k's threshold may let through to the final sort (2 u32 each in workgroup memory:
 * 16 KiB, the WebGPU minimum limit). A threshold bin holding more is refined (see top_k_threshold.wgsl).
 */
const TOP_K_CAPACITY = 2048;
/** Bins per histogram level: 16 bits of the order key (or of the index, at the ties level). */
const TOP_K_BINS = 65536;
/** Refinement levels: the key's top 16 bits, its low 16 bits, the index among ties. */
const TOP_K_LEVELS = 3;
/** The selection state at the start of the scratch buffer (6 u32), padded to a binding-offset alignment. */
const TOP_K_STATE_BYTES = 256;
/**
 * The ties level bins indices 2^shift at a time, and the candidates it lets through number at most
 * k − 1 + 2^shift: within TOP_K_CAPACITY up to shift 10, rows of 2^26 logits, far above any vocabulary.
 */
const TOP_K_MAX_INDEX_SHIFT = 10;

const CANDIDATE_BYTES = 8; // vec2<u32>: order key, index
const SCRATCH_BYTES = Math.max(ARGMAX_MAX_GROUPS * CANDIDATE_BYTES, TOP_K_STATE_BYTES + TOP_K_CAPACITY * CANDIDATE_BYTES);

/**
 * Buffers kept per device, created on first use: the scratch buffer both ops share (argmax's partial
 * candidates; top-k's selection state and candidates, 16.25 KiB) and top-k's histograms (3 × 256 KiB).
 * Sharing is safe because work runs in submission order and each op records all its passes back to back.
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
const histogramBuffers = new WeakMap<Gpu, GPUBuffer>();
function histogramsFor(gpu: Gpu): GPUBuffer {
  let buffer = histogramBuffers.get(gpu);
  if (!buffer) {
    buffer = gpu.allocator.createBuffer(TOP_K_LEVELS * TOP_K_BINS * 4, 'top-k histograms');
    histogramBuffers.set(gpu, buffer);
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
  needBytes(what, 'out', out, 4, 'one u32');
  const groups = Math.min(ARGMAX_MAX_GROUPS, Math.ceil(length / (ARGMAX_WG * ARGMAX_PER_INVOCATION)));
  const scratch = scratchFor(rec.gpu);
  const constants = { WG: ARGMAX_WG };
  const partial = rec.gpu.pipelines.get(argmaxPartial, { precision: rec.gpu.precision, constants });
  rec.dispatch(partial, argmaxPartial.uniforms.pack({ length, groups }), [logits, scratch], [groups]);
  const reduce = rec.gpu.pipelines.get(argmaxReduce, { precision: rec.gpu.precision, constants });
  rec.dispatch(reduce, argmaxReduce.uniforms.pack({ groups }), [scratch, out], [1]);
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

/**
 * The k largest logits and their indices, sorted descending (ties: lower index first).
 *
 * A selection by threshold rather than a sort of the row: a histogram of the order keys' top 16 bits
 * finds the bin holding the k-th element, and when the elements at or above it are more than
 * TOP_K_CAPACITY, up to two more histograms (of the low 16 bits within that bin, then of the indices of
 * the elements tied at the k-th key) narrow the threshold until they fit. The elements at or above it are
 * then collected and sorted by one workgroup. Whatever the data, that is two or three reads of the row in
 * the usual case and at most four, always the same 10 commands (levels already decided skip at once).
 */
export function topK(rec: Recorder, { logits, length, k, outValues, outIndices }: TopKArgs): void {
  const what = 'topK';
  checkLogits(rec, what, logits, length);
  if (!Number.isInteger(k) || k < 1 || k > Math.min(length, TOP_K_MAX)) {
    throw new InvalidArgumentError(`${what}: k ${k} must be an integer from 1 to min(length ${length}, ${TOP_K_MAX})`);
  }
  needBytes(what, 'outValues', outValues, 4 * k, `${k} f32`);
  needBytes(what, 'outIndices', outIndices, 4 * k, `${k} u32`);
  // The ties level bins index >> shift; 65536 bins of 2^shift indices must cover the row.
  const indexShift = Math.max(0, Math.ceil(Math.log2(length)) - 16);
  if (indexShift > TOP_K_MAX_INDEX_SHIFT) throw new InvalidArgumentError(`${what}: length ${length} is above ${2 ** (16 + TOP_K_MAX_INDEX_SHIFT)}`);
  const groups = Math.min(ARGMAX_MAX_GROUPS, Math.ceil(length / (TOP_K_WG * ARGMAX_PER_INVOCATION)));
  const scratch = scratchFor(rec.gpu);
  const histograms = histogramsFor(rec.gpu);
  const state = { buffer: scratch, offset: 0, size: TOP_K_STATE_BYTES };
  const candidates = { buffer: scratch, offset: TOP_K_STATE_BYTES, size: TOP_K_CAPACITY * CANDIDATE_BYTES };
  const encoder = rec.commandEncoder();
  encoder.clearBuffer(histograms);
  encoder.clearBuffer(scratch, 0, TOP_K_STATE_BYTES);
  const precision = rec.gpu.precision;
  const histogram = rec.gpu.pipelines.get(topKHistogram, { precision, constants: { WG: TOP_K_WG } });
  const threshold = rec.gpu.pipelines.get(topKThreshold); // reads no activations: one f32 variant
  for (let level = 0; level < TOP_K_LEVELS; level++) {
    const bins = { buffer: histograms, offset: level * TOP_K_BINS * 4, size: TOP_K_BINS * 4 };
    rec.dispatch(histogram, topKHistogram.uniforms.pack({ length, groups, level, index_shift: indexShift }), [logits, state, bins], [groups]);
    rec.dispatch(threshold, topKThreshold.uniforms.pack({ k, level, index_shift: indexShift, capacity: TOP_K_CAPACITY }), [bins, state], [1]);
  }
  const collect = rec.gpu.pipelines.get(topKCollect, { precision, constants: { WG: TOP_K_WG } });
  rec.dispatch(collect, topKCollect.uniforms.pack({ length, groups, capacity: TOP_K_CAPACITY }), [logits, state, candidates], [groups]);
  const sort = rec.gpu.pipelines.get(topKSort, { constants: { WG: TOP_K_WG, CAPACITY: TOP_K_CAPACITY } });
  rec.dispatch(sort, topKSort.uniforms.pack({ k }), [state, candidates, outValues, outIndices], [1]);
}

function checkLogits(rec: Recorder, what: string, logits: GPUBuffer, length: number): void {
  needCount(what, 'length', length);
  needActivations(rec.gpu, what, 'logits', logits, length);
}
