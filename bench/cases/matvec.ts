/**
 * Decode matvec (y = W·x, one token) for every weight type at Qwen2-0.5B's shapes: 896×896 (attention),
 * 4864×896 (FFN gate/up), 896×4864 (FFN down) and 151936×896 (the output head, 136M values). The K-quants
 * and IQ4_XS need rows of a multiple of 256 values, so at 896-wide models they only have the FFN-down case
 * (llama.cpp falls back to other types for the other tensors too); they also run a 1B-like 2048×2048.
 */
import { readActivations, uploadActivations, type Gpu, type Recorder } from '../../src/gpu';
import { matvec } from '../../src/ops/matvec';
import { destroyQuantMatrix, uploadQuantMatrix } from '../../src/ops/weights';
import { randomFloats } from '../../test/random';
import { dequantizeRow, QUANT_TYPES, randomQuantMatrix, referenceRowBytes, REFERENCE_BLOCKS, type QuantType } from '../../test/reference/ggml_quants';
import type { BenchCase, BenchCheck, BenchInstance } from '../types';

const SHAPES: [rows: number, cols: number][] = [
  [896, 896],
  [4864, 896],
  [896, 4864],
  [151936, 896],
  [2048, 2048],
];

function matvecCase(type: QuantType, rows: number, cols: number): BenchCase {
  return {
    name: `matvec ${type.toLowerCase()} ${rows}x${cols}`,
    family: 'matvec',
    async setup(gpu: Gpu): Promise<BenchInstance> {
      const bytes = randomQuantMatrix(type, rows, cols, rows * 31 + cols);
      const x = randomFloats(cols, cols);
      const weight = uploadQuantMatrix(gpu, type, rows, cols, bytes, `bench ${type}`);
      const xb = uploadActivations(gpu, x, 'bench x');
      const yb = gpu.allocator.createBuffer(rows * (gpu.precision === 'f16' ? 2 : 4), 'bench y');
      const bpe = gpu.precision === 'f16' ? 2 : 4;
      return {
        bytesRead: bytes.length + cols * bpe,
        flops: 2 * rows * cols,
        run(rec: Recorder) {
          matvec(rec, { weight, x: xb, y: yb });
        },
        async check(): Promise<BenchCheck> {
          const got = await readActivations(gpu, yb, rows);
          // Float64 reference row by row; the error is measured relative to Σ|w·x| of the row, the scale
          // of the rounding error of an f32 (or f16) sum.
          const rel = gpu.precision === 'f16' ? 3e-3 : 1e-5;
          const rb = referenceRowBytes(type, cols);
          let maxError = 0;
          let checksum = 0;
          let referenceChecksum = 0;
          for (let r = 0; r < rows; r++) {
            const w = dequantizeRow(type, bytes.subarray(r * rb, (r + 1) * rb), cols);
            let sum = 0;
            let mag = 0;
            for (let k = 0; k < cols; k++) {
              sum += w[k]! * x[k]!;
              mag += Math.abs(w[k]! * x[k]!);
            }
            const err = Math.abs(got[r]! - sum) / (mag || 1);
            maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
            checksum += got[r]!;
            referenceChecksum += sum;
          }
          return { ok: maxError <= rel, maxError, tolerance: rel, checksum, referenceChecksum };
        },
        destroy() {
          destroyQuantMatrix(gpu, weight);
          gpu.allocator.release(xb);
          gpu.allocator.release(yb);
        },
      };
    },
  };
}

const is256 = (type: QuantType) => REFERENCE_BLOCKS[type].values === 256;
export const cases: BenchCase[] = QUANT_TYPES.flatMap((type) =>
  SHAPES.filter(([, cols]) => cols % REFERENCE_BLOCKS[type].values === 0)
    .filter(([rows]) => (rows === 2048) === is256(type)) // 2048×2048: only where 896-wide shapes are missing
    .map(([rows, cols]) => matvecCase(type, rows, cols)),
);
