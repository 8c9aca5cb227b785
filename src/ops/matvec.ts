import matvecBlocks from '../../kernels/common/matvec_blocks.wgsl?raw';
import matvecHalves from '../../kernels/common/matvec_halves.wgsl?raw';
import matvecLoop256 from '../../kernels/common/matvec_loop256.wgsl?raw';
import matvecLoop32 from '../../kernels/common/matvec_loop32.wgsl?raw';
import matvecRows from '../../kernels/common/matvec_rows.wgsl?raw';
import packedWeights from '../../kernels/common/packed_weights.wgsl?raw';
import bf16Source from '../../kernels/matvec_bf16.wgsl?raw';
import f16Source from '../../kernels/matvec_f16.wgsl?raw';
import f32Source from '../../kernels/matvec_f32.wgsl?raw';
import iq4_nlSource from '../../kernels/matvec_iq4_nl.wgsl?raw';
import iq4_xsSource from '../../kernels/matvec_iq4_xs.wgsl?raw';
import q2_kSource from '../../kernels/matvec_q2_k.wgsl?raw';
import q3_kSource from '../../kernels/matvec_q3_k.wgsl?raw';
import q4_0Source from '../../kernels/matvec_q4_0.wgsl?raw';
import q4_1Source from '../../kernels/matvec_q4_1.wgsl?raw';
import q4_kSource from '../../kernels/matvec_q4_k.wgsl?raw';
import q5_0Source from '../../kernels/matvec_q5_0.wgsl?raw';
import q5_1Source from '../../kernels/matvec_q5_1.wgsl?raw';
import q5_kSource from '../../kernels/matvec_q5_k.wgsl?raw';
import q6_kSource from '../../kernels/matvec_q6_k.wgsl?raw';
import q8_0Source from '../../kernels/matvec_q8_0.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { rowBytes, type GgmlTypeName } from '../formats/ggml_types';
import { grid, uniforms, type Gpu, type Kernel, type Precision, type Recorder } from '../gpu';
import { needActivations, needDistinct } from './checks';
import { needQuantMatrix, type QuantMatrix } from './weights';

export interface MatvecArgs {
  /** W: [rows = output features, cols = input features], in its GGUF form (possibly several shards). */
  weight: QuantMatrix;
  /** x: [cols] activations (one token). */
  x: GPUBuffer;
  /** y: [rows] activations; written, or updated in place when `residual === y`. */
  y: GPUBuffer;
  /** Optional [rows] added to the output (qwen2's q/k/v projections). */
  bias?: GPUBuffer;
  /** Optional [rows] added to the output (the residual stream); may be `y` itself: y = W·x + y. */
  residual?: GPUBuffer;
}

/** Rows each invocation group computes at once (the `ROWS` const of kernels/common/matvec_rows.wgsl). */
export const MATVEC_ROWS_PER_GROUP = 4;

/**
 * Per type: its kernel file (a block decoder, or the 16-bit float conversion), the shared includes that make
 * it a kernel (the row loop it plugs into), and the values one invocation decodes per step of that loop.
 */
interface MatvecKernel {
  source: string;
  includes: string[];
  unitValues: number;
  /** 32-value block types: the loop needs to know whether rows hold an odd number of blocks. */
  blocks32?: boolean;
  /** 16-bit float types: the loop needs to know whether rows start mid-word. */
  halves?: boolean;
}
const BLOCKS32 = { includes: [matvecRows, packedWeights, matvecBlocks, matvecLoop32], unitValues: 64, blocks32: true };
const BLOCKS256 = { includes: [matvecRows, packedWeights, matvecBlocks, matvecLoop256] };
const HALVES = { includes: [matvecRows, matvecHalves], unitValues: 16, halves: true };
const KERNELS: Record<GgmlTypeName, MatvecKernel> = {
  Q4_0: { source: q4_0Source, ...BLOCKS32 },
  Q4_1: { source: q4_1Source, ...BLOCKS32 },
  Q5_0: { source: q5_0Source, ...BLOCKS32 },
  Q5_1: { source: q5_1Source, ...BLOCKS32 },
  Q8_0: { source: q8_0Source, ...BLOCKS32 },
  IQ4_NL: { source: iq4_nlSource, ...BLOCKS32 },
  Q2_K: { source: q2_kSource, ...BLOCKS256, unitValues: 64 },
  Q3_K: { source: q3_kSource, ...BLOCKS256, unitValues: 64 },
  Q4_K: { source: q4_kSource, ...BLOCKS256, unitValues: 64 },
  Q5_K: { source: q5_kSource, ...BLOCKS256, unitValues: 64 },
  Q6_K: { source: q6_kSource, ...BLOCKS256, unitValues: 64 },
  IQ4_XS: { source: iq4_xsSource, ...BLOCKS256, unitValues: 32 },
  F16: { source: f16Source, ...HALVES },
  BF16: { source: bf16Source, ...HALVES },
  F32: { source: f32Source, includes: [matvecRows], unitValues: 16 },
};

const matvecUniforms = uniforms({
  rows: 'u32', // rows in this shard
  cols: 'u32', // values per row
  first_row: 'u32', // global index of the shard's first row: y, bias and residual are indexed globally
});

const kernels = new Map<GgmlTypeName, Kernel>();
function kernelFor(type: GgmlTypeName): Kernel {
  let kernel = kernels.get(type);
  if (!kernel) {
    const { source, includes } = KERNELS[type];
    kernel = { name: `matvec_${type.toLowerCase()}`, source, uniforms: matvecUniforms, includes };
    kernels.set(type, kernel);
  }
  return kernel;
}

/** What `matvec` would run for a weight of this type and shape on this device. */
export interface MatvecVariant {
  kernel: string;
  precision: Precision;
  defines: { SUBGROUPS: boolean; ODD_BLOCKS: boolean; MID_WORD_ROWS: boolean; BIAS: boolean; RESIDUAL: boolean; ACCUMULATE: boolean };
  /** Invocations per row group (TPR) and row groups per workgroup (GROUPS). */
  constants: { TPR: number; GROUPS: number };
  /** Rows one workgroup produces: GROUPS × MATVEC_ROWS_PER_GROUP. */
  rowsPerWorkgroup: number;
}

/** The layout knobs a caller may force (tests cover every layout on any adapter; benchmarks compare them). */
export interface MatvecLayout {
  subgroups: boolean;
  /** Invocations per row group, a power of two; 1 is required with subgroups. */
  tpr: number;
  /** Invocations per workgroup, a multiple of tpr. */
  workgroup: number;
}

function nextPow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * The layout for rows of `cols` values on this device.
 * - Real GPUs: a group of up to 64 invocations per 4 rows reads consecutive units of the rows (coalesced)
 *   and reduces in workgroup memory; short rows get fewer invocations per group and more groups, not idle
 *   lanes. 128 invocations per workgroup.
 * - Software adapters (SwiftShader) run a workgroup's invocations as 4-wide SIMD on one CPU thread: a
 *   lane's buffer load is a bounds-checked scalar access, loops and barriers are expensive, and x loads
 *   cost more than the weights. There one invocation walks whole rows (TPR = 1, no reduction) and, with
 *   subgroups, the 4 lanes of a subgroup share each x load. 16 invocations per workgroup: measured fastest.
 */
export function matvecLayout(gpu: Gpu, type: GgmlTypeName, cols: number): MatvecLayout {
  if (gpu.caps.adapter.isFallbackAdapter) {
    return { subgroups: gpu.caps.features.subgroups && (gpu.caps.subgroupMinSize ?? 4) >= 4, tpr: 1, workgroup: 16 };
  }
  const units = Math.ceil(cols / KERNELS[type].unitValues);
  return { subgroups: false, tpr: Math.min(64, nextPow2(units)), workgroup: 128 };
}

/** The full variant `matvec` dispatches for this weight type, row length and fused additions. */
export function matvecVariant(
  gpu: Gpu,
  type: GgmlTypeName,
  cols: number,
  opts: { bias?: boolean; residual?: 'separate' | 'in-place'; layout?: MatvecLayout } = {},
): MatvecVariant {
  const layout = opts.layout ?? matvecLayout(gpu, type, cols);
  const { subgroups, tpr, workgroup } = layout;
  if (!Number.isInteger(Math.log2(tpr)) || workgroup % tpr !== 0 || workgroup > gpu.caps.limits.maxComputeInvocationsPerWorkgroup) {
    throw new InvalidArgumentError(`matvec: layout ${JSON.stringify(layout)} needs a power-of-two tpr dividing a workgroup of at most ${gpu.caps.limits.maxComputeInvocationsPerWorkgroup}`);
  }
  if (subgroups && (tpr !== 1 || workgroup % 4 !== 0)) {
    throw new InvalidArgumentError(`matvec: the subgroup layout needs tpr = 1 and whole subgroups (workgroup a multiple of 4), got ${JSON.stringify(layout)}`);
  }
  const GROUPS = workgroup / tpr;
  return {
    kernel: `matvec_${type.toLowerCase()}`,
    precision: gpu.precision,
    // Rows 2 mod 4 bytes long start alternately at byte 0 and 2 of a word: the 32-value block loop then
    // decodes alternate rows with their mid-word code, and the 16-bit float loop realigns (it skips that
    // when no row needs it).
    defines: {
      SUBGROUPS: subgroups,
      ODD_BLOCKS: Boolean(KERNELS[type].blocks32) && (cols / 32) % 2 === 1,
      MID_WORD_ROWS: Boolean(KERNELS[type].halves) && rowBytes(type, cols) % 4 !== 0,
      BIAS: Boolean(opts.bias),
      RESIDUAL: opts.residual === 'separate',
      ACCUMULATE: opts.residual === 'in-place',
    },
    constants: { TPR: tpr, GROUPS },
    rowsPerWorkgroup: GROUPS * MATVEC_ROWS_PER_GROUP,
  };
}

/**
 * Records y = W·x (+ bias) (+ residual) for one token: one dispatch per shard of W. `layout` forces a
 * layout instead of the device's choice (tests, benchmarks).
 */
export function matvec(rec: Recorder, args: MatvecArgs, layout?: MatvecLayout): void {
  const { weight, x, y, bias, residual } = args;
  const { type, rows, cols } = weight;
  const what = 'matvec';
  needQuantMatrix(what, weight);
  const gpu = rec.gpu;
  // x is read as vec4s: a length not a multiple of 4 (F16/F32 rows only) needs its last vec4 to exist.
  needActivations(gpu, what, 'x', x, Math.ceil(cols / 4) * 4);
  needActivations(gpu, what, 'y', y, rows);
  if (bias) needActivations(gpu, what, 'bias', bias, rows);
  if (residual && residual !== y) needActivations(gpu, what, 'residual', residual, rows);
  // The residual may be y itself (y = W·x + y), read before the write by the same invocation.
  needDistinct(what, ['y', y], [['x', x], ['bias', bias]]);
  needDistinct(what, ['x', x], [['residual', residual]]);

  const variant = matvecVariant(rec.gpu, type, cols, {
    bias: Boolean(bias),
    residual: residual === undefined ? undefined : residual === y ? 'in-place' : 'separate',
    layout,
  });
  const pipeline = gpu.pipelines.get(kernelFor(type), { precision: variant.precision, defines: variant.defines, constants: variant.constants });
  const extra: GPUBuffer[] = [];
  if (bias) extra.push(bias);
  if (residual && residual !== y) extra.push(residual);
  for (const shard of weight.data.shards) {
    const p = matvecUniforms.pack({ rows: shard.rows, cols, first_row: shard.firstRow });
    rec.dispatch(pipeline, p, [shard.buffer, x, y, ...extra], grid(rec.gpu, Math.ceil(shard.rows / variant.rowsPerWorkgroup)));
  }
}
