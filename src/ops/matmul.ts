import packedWeights from '../../kernels/common/packed_weights.wgsl?raw';
import source from '../../kernels/matmul_quant.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { BLOCK_LAYOUT, rowBytes, type GgmlTypeName } from '../formats/ggml_types';
import { bytesPerActivation, grid, params, type Kernel, type Recorder } from '../gpu';
import type { QuantMatrix } from './weights';

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

const kernels = new Map<GgmlTypeName, Kernel>();

/**
 * The tiled kernel specialised to one weight type: a one-line include binds the kernel's generic
 * `dequant4` to the type's decoder, so the tiling code exists once for all six types.
 */
function kernelFor(type: GgmlTypeName): Kernel {
  let kernel = kernels.get(type);
  if (!kernel) {
    const decoder = `dequant4_${type.toLowerCase()}`;
    const binding = `fn dequant4(row: u32, k: u32) -> vec4<f32> { return ${decoder}(row, k); }`;
    kernel = { name: `matmul_quant_${type.toLowerCase()}`, source, includes: [packedWeights, binding] };
    kernels.set(type, kernel);
  }
  return kernel;
}

/** Y = X·Wᵀ (+ bias) (+ residual) for `tokens` rows of X: the prefill projection for any weight type. */
export function matmul(rec: Recorder, args: MatmulArgs): void {
  const { weight, x, y, tokens, bias, residual } = args;
  const gpu = rec.gpu;
  const { rows, cols, type } = weight;
  if (!(type in BLOCK_LAYOUT)) throw new InvalidArgumentError(`matmul: weight type ${type} is not supported`);
  if (!Number.isInteger(tokens) || tokens < 1) throw new InvalidArgumentError(`matmul: tokens must be a positive integer, got ${tokens}`);
  if (!Number.isInteger(rows) || rows < 1 || !Number.isInteger(cols) || cols < 1) {
    throw new InvalidArgumentError(`matmul: weight shape ${rows}×${cols} must be positive integers`);
  }
  if (cols % VALUES_PER_READ !== 0) {
    throw new InvalidArgumentError(`matmul: cols (${cols}) must be a multiple of 4 (the kernel reads X and W four values at a time)`);
  }
  const { blockValues } = BLOCK_LAYOUT[type];
  if (cols % blockValues !== 0) {
    throw new InvalidArgumentError(`matmul: a ${type} weight needs cols to be a multiple of ${blockValues}, got ${cols}`);
  }
  const packedRow = rowBytes(type, cols);
  if (weight.data.rowBytes !== packedRow || weight.data.rows !== rows) {
    throw new InvalidArgumentError(
      `matmul: weight data holds ${weight.data.rows} rows of ${weight.data.rowBytes} bytes, but a ${type} ${rows}×${cols} matrix needs ${rows} rows of ${packedRow} bytes`,
    );
  }
  const bpe = bytesPerActivation(gpu);
  const need = (what: string, buffer: GPUBuffer, elements: number, shape: string) => {
    if (buffer.size < elements * bpe) {
      throw new InvalidArgumentError(`matmul: ${what} is ${buffer.size} bytes, too small for ${shape} (${elements * bpe} bytes of ${gpu.precision})`);
    }
  };
  need('x', x, tokens * cols, `[tokens ${tokens}, cols ${cols}]`);
  need('y', y, tokens * rows, `[tokens ${tokens}, rows ${rows}]`);
  if (bias) need('bias', bias, rows, `[rows ${rows}]`);
  if (residual) need('residual', residual, tokens * rows, `[tokens ${tokens}, rows ${rows}]`);
  if (x === y) throw new InvalidArgumentError('matmul: x and y must be different buffers (every output reads a whole row of x)');
  if (bias && (bias === y || bias === x)) throw new InvalidArgumentError('matmul: bias must not be x or y');
  if (residual && residual === x) throw new InvalidArgumentError('matmul: residual must not be x');

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
    const p = params()
      .u32(tokens)
      .u32(cols)
      .u32(shard.rows)
      .u32(shard.firstRow)
      .u32(rows)
      .u32(packedRow)
      .u32(rowTiles)
      .u32(tiles);
    const buffers: GPUBuffer[] = [x, shard.buffer, y];
    if (bias) buffers.push(bias);
    if (residual && !accumulate) buffers.push(residual);
    rec.dispatch(pipeline, p, buffers, grid(gpu, tiles));
  }
}
