import matvecRows from '../../kernels/common/matvec_rows.wgsl?raw';
import f16Source from '../../kernels/matvec_f16.wgsl?raw';
import f32Source from '../../kernels/matvec_f32.wgsl?raw';
import q4_0Source from '../../kernels/matvec_q4_0.wgsl?raw';
import q4_kSource from '../../kernels/matvec_q4_k.wgsl?raw';
import q6_kSource from '../../kernels/matvec_q6_k.wgsl?raw';
import q8_0Source from '../../kernels/matvec_q8_0.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { BLOCK_LAYOUT, rowBytes, type GgmlTypeName } from '../formats/ggml_types';
import { bytesPerActivation, grid, params, type Gpu, type Kernel, type Precision, type Recorder } from '../gpu';
import type { QuantMatrix } from './weights';

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

/** Values one invocation decodes per step of its loop along a row (the kernel's unit of work). */
const UNIT_VALUES: Record<GgmlTypeName, number> = { Q4_0: 64, Q8_0: 64, Q4_K: 64, Q6_K: 64, F16: 16, F32: 16 };

const SOURCES: Record<GgmlTypeName, string> = {
  Q4_0: q4_0Source,
  Q8_0: q8_0Source,
  Q4_K: q4_kSource,
  Q6_K: q6_kSource,
  F16: f16Source,
  F32: f32Source,
};

const kernels = new Map<GgmlTypeName, Kernel>();
function kernelFor(type: GgmlTypeName): Kernel {
  let kernel = kernels.get(type);
  if (!kernel) {
    // The kernels decode blocks inline in shift-free forms (see kernels/common/matvec_rows.wgsl) rather than
    // with packed_weights.wgsl's reference-shaped readers, which the tests check separately.
    kernel = { name: `matvec_${type.toLowerCase()}`, source: SOURCES[type], includes: [matvecRows] };
    kernels.set(type, kernel);
  }
  return kernel;
}

/** What `matvec` would run for a weight of this type and shape on this device. */
export interface MatvecVariant {
  kernel: string;
  precision: Precision;
  defines: { SUBGROUPS: boolean; PARITY_ALTERNATES: boolean; BIAS: boolean; RESIDUAL: boolean; ACCUMULATE: boolean };
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
  const units = Math.ceil(cols / UNIT_VALUES[type]);
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
    // Rows 2 mod 4 bytes long start alternately at byte 0 and 2 of a word (see kernels/common/matvec_rows.wgsl).
    defines: { SUBGROUPS: subgroups, PARITY_ALTERNATES: rowBytes(type, cols) % 4 !== 0, BIAS: Boolean(opts.bias), RESIDUAL: opts.residual === 'separate', ACCUMULATE: opts.residual === 'in-place' },
    constants: { TPR: tpr, GROUPS },
    rowsPerWorkgroup: GROUPS * MATVEC_ROWS_PER_GROUP,
  };
}

function checkActivations(what: string, buffer: GPUBuffer, count: number, bpe: number): void {
  if (buffer.size < count * bpe) {
    throw new InvalidArgumentError(`matvec: ${what} holds ${buffer.size} bytes, needs ${count} activations of ${bpe} bytes (${count * bpe} bytes)`);
  }
}

/**
 * Records y = W·x (+ bias) (+ residual) for one token: one dispatch per shard of W. `layout` forces a
 * layout instead of the device's choice (tests, benchmarks).
 */
export function matvec(rec: Recorder, args: MatvecArgs, layout?: MatvecLayout): void {
  const { weight, x, y, bias, residual } = args;
  const { type, rows, cols } = weight;
  if (!(type in BLOCK_LAYOUT)) throw new InvalidArgumentError(`matvec: unsupported weight type ${String(type)}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new InvalidArgumentError(`matvec: weight shape ${rows}×${cols} must be positive integers`);
  }
  const { blockValues } = BLOCK_LAYOUT[type];
  if (cols % blockValues !== 0) {
    throw new InvalidArgumentError(`matvec: a ${type} row holds a multiple of ${blockValues} values, got cols = ${cols}`);
  }
  if (weight.data.rows !== rows || weight.data.rowBytes !== rowBytes(type, cols)) {
    throw new InvalidArgumentError(
      `matvec: weight data is ${weight.data.rows} rows of ${weight.data.rowBytes} bytes, but a ${type} ${rows}×${cols} matrix needs ${rows} rows of ${rowBytes(type, cols)} bytes`,
    );
  }
  const bpe = bytesPerActivation(rec.gpu);
  // x is read as vec4s: a length not a multiple of 4 (F16/F32 rows only) needs its last vec4 to exist.
  checkActivations('x', x, Math.ceil(cols / 4) * 4, bpe);
  checkActivations('y', y, rows, bpe);
  if (bias) checkActivations('bias', bias, rows, bpe);
  if (residual && residual !== y) checkActivations('residual', residual, rows, bpe);
  // WebGPU forbids binding one buffer as both read-only and writable storage in a dispatch.
  if (x === y) throw new InvalidArgumentError('matvec: x and y must be different buffers');
  if (bias === y) throw new InvalidArgumentError('matvec: bias and y must be different buffers');
  if (residual === x) throw new InvalidArgumentError('matvec: residual and x must be different buffers (residual may be y itself)');

  const variant = matvecVariant(rec.gpu, type, cols, {
    bias: Boolean(bias),
    residual: residual === undefined ? undefined : residual === y ? 'in-place' : 'separate',
    layout,
  });
  const pipeline = rec.gpu.pipelines.get(kernelFor(type), { precision: variant.precision, defines: variant.defines, constants: variant.constants });
  const extra: GPUBuffer[] = [];
  if (bias) extra.push(bias);
  if (residual && residual !== y) extra.push(residual);
  for (const shard of weight.data.shards) {
    const p = params().u32(shard.rows).u32(cols).u32(shard.firstRow);
    rec.dispatch(pipeline, p, [shard.buffer, x, y, ...extra], grid(rec.gpu, Math.ceil(shard.rows / variant.rowsPerWorkgroup)));
  }
}
