import prefillSource from '../../kernels/attention_prefill.wgsl?raw';
import decodeSplitSource from '../../kernels/attention_decode_split.wgsl?raw';
import decodeReduceSource from '../../kernels/attention_decode_reduce.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { roundUp, uniforms, type Gpu, type Recorder } from '../gpu';
import { needActivations, needBytes, needCount, needDistinct } from './checks';

const prefillKernel = {
  name: 'attention_prefill',
  source: prefillSource,
  uniforms: uniforms({
    tokens: 'u32', // T: query tokens in this call
    past: 'u32', // positions in the cache before them: token t sits at position past + t
    n_head: 'u32',
    n_kv_head: 'u32',
    scale: 'f32', // usually 1/sqrt(HEAD_DIM)
  }),
};
const decodeSplitKernel = {
  name: 'attention_decode_split',
  source: decodeSplitSource,
  uniforms: uniforms({
    length: 'u32', // cache positions attended to (past + 1: the new token's K/V are already stored)
    n_head: 'u32',
    n_kv_head: 'u32',
    chunk_size: 'u32', // positions per chunk, a multiple of BK
    n_chunks: 'u32',
    scale: 'f32',
  }),
};
const decodeReduceKernel = { name: 'attention_decode_reduce', source: decodeReduceSource, uniforms: uniforms({ n_head: 'u32', n_chunks: 'u32' }) };

/** Head sizes the kernels are tested at. Others would work if a multiple of 4 but are refused until tested. */
export const SUPPORTED_HEAD_DIMS: readonly number[] = [32, 64, 128];

/**
 * Tiles are sized for the 16 KiB of workgroup memory every WebGPU device has (SwiftShader has 32 KiB, so
 * tests would not notice an overflow: `workgroupBytes` is checked against 16 KiB by the tests instead).
 */
const WORKGROUP_BYTES_BUDGET = 16384;
const PREFILL_WG = 128;
/** Prefill tiles per head size: big query tiles (each K/V tile is reused by BQ rows), keys as room allows. */
const PREFILL_TILES: Record<number, { bq: number; bk: number }> = {
  32: { bq: 32, bk: 32 },
  64: { bq: 32, bk: 16 },
  128: { bq: 16, bk: 8 },
};
const DECODE_WG = 64;
const REDUCE_WG = 64;
/** Queries kept in workgroup memory by one decode workgroup, at most (floats); more heads → head groups. */
const DECODE_MAX_QUERY_FLOATS = 1024;
/**
 * Split-K sizing: aim for this many decode workgroups so a large GPU has work on every core, but never
 * cut chunks shorter than MIN_CHUNK positions, where the reduce would cost more than the split saves.
 */
const DECODE_TARGET_WORKGROUPS = 256;
const DECODE_MIN_CHUNK = 32;

export interface AttentionPrefillArgs {
  /** Queries of the new tokens after RoPE: [tokens, nHead, headDim] activations. */
  q: GPUBuffer;
  /** The layer's key cache [maxContext, nKvHead, headDim]; positions 0 .. pastLength+tokens-1 filled. */
  k: GPUBuffer;
  /** The layer's value cache, laid out like `k`. */
  v: GPUBuffer;
  /** Output [tokens, nHead, headDim]; must be a different buffer from q, k and v. */
  out: GPUBuffer;
  tokens: number;
  /** Positions already in the cache before these tokens: token t sits at pastLength + t. */
  pastLength: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  /** Multiplies q·k; default 1/sqrt(headDim). */
  scale?: number;
}

export interface AttentionDecodeArgs extends Omit<AttentionPrefillArgs, 'tokens'> {
  /**
   * f32 buffer for the per-chunk partial results, at least `attentionDecodeScratchBytes(...)` bytes.
   * Default: one buffer per Gpu owned by this module, grown when a larger model needs more.
   */
  scratch?: GPUBuffer;
}

export interface PrefillConfig {
  headDim: number;
  bq: number;
  bk: number;
  wg: number;
  workgroupBytes: number;
}

/** The prefill kernel's tiles for this head size. */
export function prefillConfig(headDim: number): PrefillConfig {
  const tiles = PREFILL_TILES[headDim];
  if (!tiles) throw unsupportedHeadDim('attentionPrefill', headDim);
  const d4 = headDim / 4;
  const { bq, bk } = tiles;
  // q_tile + kv_tile (padded rows) + probs + part_max and part_sum + four per-row floats
  const workgroupBytes = bq * d4 * 16 + bk * (d4 + 1) * 16 + bq * bk * 4 + 2 * PREFILL_WG * 4 + 4 * bq * 4;
  return { headDim, bq, bk, wg: PREFILL_WG, workgroupBytes };
}

export interface DecodePlan {
  headDim: number;
  /** Query heads per workgroup (a divisor of nHead / nKvHead) and workgroups per kv head. */
  groupHeads: number;
  groupsPerKv: number;
  bk: number;
  wg: number;
  scoreLanes: number;
  keyLanes: number;
  workgroupBytes: number;
  chunkSize: number;
  chunks: number;
  /** The most chunks any context length can get with these heads: sizes the scratch buffer. */
  maxChunks: number;
}

/** How decode splits the work for these heads at `length` cache positions (pastLength + 1). */
export function decodePlan(nHead: number, nKvHead: number, headDim: number, length: number): DecodePlan {
  if (!SUPPORTED_HEAD_DIMS.includes(headDim)) throw unsupportedHeadDim('attentionDecode', headDim);
  const d4 = headDim / 4;
  const wg = DECODE_WG;
  const headsPerKv = nHead / nKvHead;
  let groupHeads = 1;
  for (let g = 1; g <= headsPerKv; g++) {
    if (headsPerKv % g === 0 && g * headDim <= DECODE_MAX_QUERY_FLOATS) groupHeads = g;
  }
  const rowLanes = wg / d4;
  const keyLanes = Math.max(1, Math.floor(rowLanes / groupHeads));
  let chosen: { bk: number; scoreLanes: number; workgroupBytes: number } | undefined;
  for (const bk of [32, 16, 8, 4]) {
    const scoreLanes = Math.min(d4, Math.max(1, Math.floor(wg / (groupHeads * bk))));
    // q_tile + k_tile (padded) + v_tile + score_parts + probs + three per-head floats + lane_acc
    const workgroupBytes =
      groupHeads * d4 * 16 + bk * (d4 + 1) * 16 + bk * d4 * 16 + groupHeads * bk * scoreLanes * 4 + groupHeads * bk * 4 + 3 * groupHeads * 4 + wg * 16;
    if (workgroupBytes <= WORKGROUP_BYTES_BUDGET) {
      chosen = { bk, scoreLanes, workgroupBytes };
      break;
    }
  }
  if (!chosen) throw new InvalidArgumentError(`attentionDecode: no tile of headDim ${headDim} fits ${WORKGROUP_BYTES_BUDGET} bytes of workgroup memory`);
  const groupsPerKv = headsPerKv / groupHeads;
  const workgroupsPerChunk = nKvHead * groupsPerKv;
  const maxChunks = Math.max(1, Math.ceil(DECODE_TARGET_WORKGROUPS / workgroupsPerChunk));
  const wanted = Math.max(1, Math.min(maxChunks, Math.ceil(length / DECODE_MIN_CHUNK)));
  const chunkSize = roundUp(Math.ceil(length / wanted), chosen.bk);
  return {
    headDim,
    groupHeads,
    groupsPerKv,
    bk: chosen.bk,
    wg,
    scoreLanes: chosen.scoreLanes,
    keyLanes: Math.min(keyLanes, chosen.bk),
    workgroupBytes: chosen.workgroupBytes,
    chunkSize,
    // Every chunk holds at least one position (the reduce relies on it).
    chunks: Math.ceil(length / chunkSize),
    maxChunks,
  };
}

/** Bytes of f32 scratch attentionDecode needs for these heads at any context length. */
export function attentionDecodeScratchBytes(nHead: number, nKvHead: number, headDim: number): number {
  const plan = decodePlan(nHead, nKvHead, headDim, 1);
  return nHead * plan.maxChunks * (1 + headDim / 4) * 16;
}

/**
 * Causal attention of `tokens` new tokens (prefill, or a chunk of it on top of an existing cache):
 * out[t, h] = softmax_j(scale · q[t, h] · k[j, kvh]) · v[j, kvh] over j = 0 .. pastLength + t,
 * kvh = h / (nHead / nKvHead). The new tokens' K/V must already be in the cache.
 */
export function attentionPrefill(rec: Recorder, args: AttentionPrefillArgs): void {
  const { q, k, v, out, tokens, pastLength, nHead, nKvHead, headDim } = args;
  const scale = validate('attentionPrefill', rec.gpu, args, tokens);
  const config = prefillConfig(headDim);
  const tiles = Math.ceil(tokens / config.bq);
  const maxGroups = rec.gpu.caps.limits.maxComputeWorkgroupsPerDimension;
  if (tiles > maxGroups) {
    throw new InvalidArgumentError(`attentionPrefill: ${tokens} tokens need ${tiles} query tiles, more than ${maxGroups}; prefill in smaller chunks`);
  }
  const pipeline = rec.gpu.pipelines.get(prefillKernel, {
    precision: rec.gpu.precision,
    constants: { HEAD_DIM: headDim, BQ: config.bq, BK: config.bk, WG: config.wg },
  });
  rec.dispatch(pipeline, prefillKernel.uniforms.pack({ tokens, past: pastLength, n_head: nHead, n_kv_head: nKvHead, scale }), [q, k, v, out], [tiles, nHead]);
}

/**
 * Attention of one new token at position pastLength over cache positions 0 .. pastLength (its own K/V
 * already stored), split over chunks of the cache (flash-decoding) and combined by a second kernel.
 */
export function attentionDecode(rec: Recorder, args: AttentionDecodeArgs): void {
  const { q, k, v, out, pastLength, nHead, nKvHead, headDim } = args;
  const what = 'attentionDecode';
  const scale = validate(what, rec.gpu, args, 1);
  const plan = decodePlan(nHead, nKvHead, headDim, pastLength + 1);
  const needed = nHead * plan.chunks * (1 + headDim / 4) * 16;
  let scratch = args.scratch;
  if (scratch) {
    needBytes(what, 'scratch', scratch, needed, 'the chunks\' partial results (see attentionDecodeScratchBytes)');
    needDistinct(what, ['scratch', scratch], [['q', q], ['k', k], ['v', v], ['out', out]]);
  } else {
    scratch = sharedScratch(rec.gpu, attentionDecodeScratchBytes(nHead, nKvHead, headDim));
  }
  const maxGroups = rec.gpu.caps.limits.maxComputeWorkgroupsPerDimension;
  if (plan.chunks > maxGroups || nKvHead * plan.groupsPerKv > maxGroups) {
    throw new InvalidArgumentError(`${what}: ${plan.chunks} chunks × ${nKvHead * plan.groupsPerKv} head groups exceed ${maxGroups} workgroups per dimension`);
  }
  const split = rec.gpu.pipelines.get(decodeSplitKernel, {
    precision: rec.gpu.precision,
    constants: {
      HEAD_DIM: headDim,
      GROUP_HEADS: plan.groupHeads,
      BK: plan.bk,
      WG: plan.wg,
      SCORE_LANES: plan.scoreLanes,
      KEY_LANES: plan.keyLanes,
    },
  });
  rec.dispatch(
    split,
    decodeSplitKernel.uniforms.pack({ length: pastLength + 1, n_head: nHead, n_kv_head: nKvHead, chunk_size: plan.chunkSize, n_chunks: plan.chunks, scale }),
    [q, k, v, { buffer: scratch, offset: 0, size: needed }],
    [plan.chunks, nKvHead * plan.groupsPerKv],
  );
  const reduce = rec.gpu.pipelines.get(decodeReduceKernel, { precision: rec.gpu.precision, constants: { HEAD_DIM: headDim, WG: REDUCE_WG } });
  rec.dispatch(reduce, decodeReduceKernel.uniforms.pack({ n_head: nHead, n_chunks: plan.chunks }), [{ buffer: scratch, offset: 0, size: needed }, out], [nHead]);
}

interface ScratchState {
  buffer: GPUBuffer;
  /** Outgrown buffers: a recording not yet submitted may still use them, so they live until release. */
  retired: GPUBuffer[];
}
const scratchByGpu = new WeakMap<Gpu, ScratchState>();

function sharedScratch(gpu: Gpu, bytes: number): GPUBuffer {
  const state = scratchByGpu.get(gpu);
  if (state && state.buffer.size >= bytes) return state.buffer;
  const buffer = gpu.allocator.createBuffer(bytes, 'attention decode scratch');
  if (state) {
    state.retired.push(state.buffer);
    state.buffer = buffer;
  } else {
    scratchByGpu.set(gpu, { buffer, retired: [] });
  }
  return buffer;
}

/** Frees the decode scratch buffers of this Gpu (call when no recorded work uses them any more). */
export function releaseAttentionScratch(gpu: Gpu): void {
  const state = scratchByGpu.get(gpu);
  if (!state) return;
  for (const b of [state.buffer, ...state.retired]) gpu.allocator.release(b);
  scratchByGpu.delete(gpu);
}

/** Checks the shapes shared by prefill and decode; returns the scale to use. */
function validate(what: string, gpu: Gpu, args: Omit<AttentionPrefillArgs, 'tokens'>, tokens: number): number {
  const { q, k, v, out, pastLength, nHead, nKvHead, headDim } = args;
  for (const [name, value] of [['tokens', tokens], ['nHead', nHead], ['nKvHead', nKvHead]] as const) needCount(what, name, value);
  if (!Number.isInteger(pastLength) || pastLength < 0) throw new InvalidArgumentError(`${what}: pastLength (${pastLength}) must be an integer ≥ 0`);
  if (nHead % nKvHead !== 0) {
    throw new InvalidArgumentError(`${what}: nHead (${nHead}) must be a multiple of nKvHead (${nKvHead}) for grouped-query attention`);
  }
  if (!SUPPORTED_HEAD_DIMS.includes(headDim)) throw unsupportedHeadDim(what, headDim);
  const scale = args.scale ?? 1 / Math.sqrt(headDim);
  if (!Number.isFinite(scale)) throw new InvalidArgumentError(`${what}: scale ${scale} must be finite`);
  const qShape = `[${tokens}, ${nHead}, ${headDim}]`;
  needActivations(gpu, what, 'q', q, tokens * nHead * headDim, qShape);
  needActivations(gpu, what, 'out', out, tokens * nHead * headDim, qShape);
  for (const [name, buffer] of [['the k cache', k], ['the v cache', v]] as const) {
    needActivations(gpu, what, name, buffer, (pastLength + tokens) * nKvHead * headDim, `${pastLength + tokens} positions of [${nKvHead}, ${headDim}]`);
  }
  needDistinct(what, ['out', out], [['q', q], ['k', k], ['v', v]]);
  if (nHead > gpu.caps.limits.maxComputeWorkgroupsPerDimension) {
    throw new InvalidArgumentError(`${what}: ${nHead} heads exceed ${gpu.caps.limits.maxComputeWorkgroupsPerDimension} workgroups per dimension`);
  }
  return scale;
}

function unsupportedHeadDim(what: string, headDim: number): InvalidArgumentError {
  return new InvalidArgumentError(`${what}: headDim ${headDim} is not supported (supported: ${SUPPORTED_HEAD_DIMS.join(', ')})`);
}
