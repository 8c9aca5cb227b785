/**
 * Prefill projections (Y = X·Wᵀ for a whole prompt of `tokens` tokens) at realistic LLM shapes.
 * Names read `matmul <type> <tokens>tok <rows>x<cols>`.
 */
import { readActivations, Recorder, uploadActivations, type Gpu } from '../../src/gpu';
import { matmul } from '../../src/ops/matmul';
import { destroyQuantMatrix, uploadQuantMatrix } from '../../src/ops/weights';
import { rng, randomFloats } from '../../test/random';
import { dequantizeRow, randomQuantMatrix, referenceRowBytes, type QuantType } from '../../test/reference/ggml_quants';
import type { BenchCase, BenchCheck, BenchInstance } from '../types';

/** Output rows checked against the float64 reference: all 4864 would be 2.2 GFLOP of JS per check. */
const SAMPLED_ROWS = 64;

function matmulCase(type: QuantType, tokens: number, rows: number, cols: number): BenchCase {
  return {
    name: `matmul ${type.toLowerCase()} ${tokens}tok ${rows}x${cols}`,
    family: 'matmul',
    async setup(gpu: Gpu): Promise<BenchInstance> {
      const seed = rows * 31 + cols + tokens;
      const bytes = randomQuantMatrix(type, rows, cols, seed);
      const weight = uploadQuantMatrix(gpu, type, rows, cols, bytes, `bench ${type} weight`);
      const x = randomFloats(tokens * cols, seed + 1);
      const xBuffer = uploadActivations(gpu, x, 'bench x');
      const yBuffer = uploadActivations(gpu, new Float32Array(tokens * rows), 'bench y');
      return {
        bytesRead: bytes.byteLength + x.length * (gpu.precision === 'f16' ? 2 : 4),
        flops: 2 * tokens * rows * cols,
        run(rec: Recorder) {
          matmul(rec, { weight, x: xBuffer, y: yBuffer, tokens });
        },
        async check(): Promise<BenchCheck> {
          const y = await readActivations(gpu, yBuffer, tokens * rows);
          return checkSampledRows(gpu, type, bytes, x, y, tokens, rows, cols, seed + 2);
        },
        destroy() {
          destroyQuantMatrix(gpu, weight);
          gpu.allocator.release(xBuffer);
          gpu.allocator.release(yBuffer);
        },
      };
    },
  };
}

/**
 * Compares SAMPLED_ROWS random output rows (every token) with a float64 product over the reference
 * decoding of those weight rows. The tolerance scales with the largest Σ|x·w| among them, since f32 (or
 * f16) accumulation error is proportional to the magnitudes summed.
 */
function checkSampledRows(
  gpu: Gpu,
  type: QuantType,
  bytes: Uint8Array,
  x: Float32Array,
  y: Float32Array,
  tokens: number,
  rows: number,
  cols: number,
  seed: number,
): BenchCheck {
  const r = rng(seed);
  const rowBytes = referenceRowBytes(type, cols);
  let maxError = 0;
  let maxMagnitude = 0;
  let checksum = 0;
  let referenceChecksum = 0;
  for (let s = 0; s < Math.min(SAMPLED_ROWS, rows); s++) {
    const n = Math.floor(r() * rows);
    const w = dequantizeRow(type, bytes.subarray(n * rowBytes, (n + 1) * rowBytes), cols);
    for (let t = 0; t < tokens; t++) {
      let sum = 0;
      let magnitude = 0;
      for (let k = 0; k < cols; k++) {
        const p = x[t * cols + k]! * w[k]!;
        sum += p;
        magnitude += Math.abs(p);
      }
      const got = y[t * rows + n]!;
      maxError = Math.max(maxError, Number.isNaN(got) ? Infinity : Math.abs(got - sum));
      maxMagnitude = Math.max(maxMagnitude, magnitude);
      checksum += got;
      referenceChecksum += sum;
    }
  }
  const tolerance = (gpu.precision === 'f16' ? 4e-3 : 1e-5) * maxMagnitude + 1e-6;
  return { ok: maxError <= tolerance, maxError, tolerance, checksum, referenceChecksum };
}

/**
 * Qwen2-0.5B's projections (rows × cols): 896×896 attention, 4864×896 FFN up/gate, 896×4864 FFN down.
 * A K-quant row holds whole 256-value blocks, which 896 is not (GGUF files fall back to other types for
 * those tensors), so Q4_K runs the FFN-down shape.
 */
const SHAPES: [type: QuantType, rows: number, cols: number][] = [
  ['Q4_0', 896, 896],
  ['Q4_0', 4864, 896],
  ['Q4_K', 896, 4864],
  ['F16', 896, 896],
  ['F16', 4864, 896],
];

/** The types real Q4_K_M / Q5_K_M / IQ4_XS files of 896-wide models are mostly made of (llama.cpp's fallbacks). */
const FALLBACK_SHAPES: [type: QuantType, rows: number, cols: number][] = [
  ['Q5_0', 4864, 896],
  ['Q5_1', 4864, 896],
  ['IQ4_NL', 4864, 896],
  ['Q8_0', 896, 896],
  ['Q5_K', 896, 4864],
  ['Q6_K', 896, 4864],
];

// 512 tokens is a realistic prompt, but on SwiftShader (2 shared CPU cores) a 512-token 4864×896 run
// takes seconds, so the 128-token cases give a quicker read of the same kernels.
export const cases: BenchCase[] = [
  ...[512, 128].flatMap((tokens) => SHAPES.map(([type, rows, cols]) => matmulCase(type, tokens, rows, cols))),
  ...FALLBACK_SHAPES.map(([type, rows, cols]) => matmulCase(type, 128, rows, cols)),
];
