import packedWeights from '../../kernels/common/packed_weights.wgsl?raw';
import source from '../../kernels/matmul_quant.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import type { GgmlTypeName } from '../formats/ggml_types';
import { grid, uniforms, type Kernel, type Recorder } from '../gpu';
import { needActivations, needCount, needDistinct } from './checks';
import { needQuantMatrix, type QuantMatrix } from './weights';

export interface MatmulArgs {
  /** W: [rows = output features, cols = input features], in its GGUF form. */
  weight: QuantMatrix;
  /** X: [tokens, cols] activations, row-major. */
  x: GPUBuffer;
  /** Y: [tokens, rows] activations, row-major; written (or updated in place when `residual === y`). */
  y: GPUBuffer;
  tokens: number;
  /** Optional [rows] added to every token's output (qwen2's q/k/v projections). */
  bias?: GPUBuffer;
  /**
   * Optional [tokens, rows] added to the output (the residual stream after attention output / ffn down).
   * It may be `y` itself, in which case Y += X·Wᵀ (+ bias) in place.
   */
  residual?: GPUBuffer;
}

/** The kernel reads X and decodes W four values at a time. */
const VALUES_PER_READ = 4;
/** Each invocation accumulates an 8 tokens × 8 rows block (fixed in the kernel). */
const REGISTER_BLOCK = 8;

interface TileShape {
  tokens: number;
  rows: number;
  k: number;
}

/**
 * Token tiles shrink for short prompts so a 3-token prefill does not compute 61 token rows of zeros.
 * TILE_K = 32 matches the 32-value blocks (and sub-blocks of the K-quants) and keeps both tiles within
 * 16 KiB, WebGPU's default workgroup storage limit. On SwiftShader, 64×64×32, 128×64×32, 64×128×32,
 * 128×128×16 and K-steps of 16 or 64 measured within noise of each other.
 */
function tileFor(tokens: number): TileShape {
  if (tokens <= 16) return { tokens: 16, rows: 64, k: 32 };
  if (tokens <= 32) return { tokens: 32, rows: 64, k: 32 };
  return { tokens: 64, rows: 64, k: 32 };
}

const matmulUniforms = uniforms({
  tokens: 'u32',
  cols: 'u32', // K: a multiple of 4 (and of the type's block)
  shard_rows: 'u32', // rows of W in this binding
  first_row: 'u32', // the shard's first row within W
  out_rows: 'u32', // rows of the whole W: the row stride of Y and residual
  row_bytes: 'u32', // bytes of one packed row of W
  row_tiles: 'u32', // workgroups across this shard's rows
  tiles: 'u32', // row_tiles × token tiles: workgroups that do work (the grid may have a few more)
});

const kernels = new Map<GgmlTypeName, Kernel>();

/**
 * The tiled kernel specialised to one weight type: a one-line include binds the kernel's generic
 * `dequant4` to the type's decoder, so the tiling code exists once for all types.
 */
function kernelFor(type: GgmlTypeName): Kernel {
  let kernel = kernels.get(type);
  if (!kernel) {
    const decoder = `dequant4_${type.toLowerCase()}`;
    const binding = `fn dequant4(row: u32, k: u32) -> vec4<f32> { return ${decoder}(row, k); }`;
    kernel = { name: `matmul_quant_${type.toLowerCase()}`, source, uniforms: matmulUniforms, includes: [packedWeights, binding] };
    kernels.set(type, kernel);
  }
  return kernel;
}

/** Y = X·Wᵀ (+ bias) (+ residual) for `tokens` rows of X: the prefill projection for any weight type. */
export function matmul(rec: Recorder, args: MatmulArgs): void {
  const { weight, x, y, tokens, bias, residual } = args;
  const gpu = rec.gpu;
  const { rows, cols, type } = weight;
  const what = 'matmul';
  needQuantMatrix(what, weight);
  needCount(what, 'tokens', tokens);
  if (cols % VALUES_PER_READ !== 0) {
    throw new InvalidArgumentError(`matmul: cols (${cols}) must be a multiple of 4 (the kernel reads X and W four values at a time)`);
  }
  needActivations(gpu, what, 'x', x, tokens * cols, `[tokens ${tokens}, cols ${cols}]`);
  needActivations(gpu, what, 'y', y, tokens * rows, `[tokens ${tokens}, rows ${rows}]`);
  if (bias) needActivations(gpu, what, 'bias', bias, rows, `[rows ${rows}]`);
  if (residual) needActivations(gpu, what, 'residual', residual, tokens * rows, `[tokens ${tokens}, rows ${rows}]`);
  // Every output reads a whole row of x, so y cannot be x; the residual may be y itself (in place).
  needDistinct(what, ['y', y], [['x', x], ['bias', bias]]);
  needDistinct(what, ['x', x], [['bias', bias], ['residual', residual]]);

  const tile = tileFor(tokens);
  const accumulate = residual !== undefined && residual === y;
  const pipeline = gpu.pipelines.get(kernelFor(type), {
    precision: gpu.precision,
    defines: { BIAS: bias !== undefined, RESIDUAL: residual !== undefined && !accumulate, ACCUMULATE: accumulate },
    constants: {
      TILE_TOKENS: tile.tokens,
      TILE_ROWS: tile.rows,
      TILE_K: tile.k,
      WG: (tile.tokens / REGISTER_BLOCK) * (tile.rows / REGISTER_BLOCK),
    },
  });
  const tokenTiles = Math.ceil(tokens / tile.tokens);
  for (const shard of weight.data.shards) {
    const rowTiles = Math.ceil(shard.rows / tile.rows);
    const tiles = rowTiles * tokenTiles;
    const p = matmulUniforms.pack({
      tokens, cols, shard_rows: shard.rows, first_row: shard.firstRow, out_rows: rows, row_bytes: weight.data.rowBytes, row_tiles: rowTiles, tiles,
    });
    const buffers: GPUBuffer[] = [x, shard.buffer, y];
    if (bias) buffers.push(bias);
    if (residual && !accumulate) buffers.push(residual);
    rec.dispatch(pipeline, p, buffers, grid(gpu, tiles));
  }
}
