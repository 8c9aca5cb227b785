// The tiled prefill matmul (Y = X·Wᵀ + bias + residual) against a float64 CPU product, for every GGUF
// weight type, at shapes that leave partial tiles in every direction, with W split across bindings, and
// with the fused bias / residual variants. The weights are decoded on the CPU by test/reference, which
// shares no code with the kernels.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/errors';
import { readActivations, Recorder, uploadActivations, type Gpu } from '../../src/gpu';
import { matmul } from '../../src/ops/matmul';
import { createQuantMatrix, destroyQuantMatrix, uploadQuantMatrix, type QuantMatrix } from '../../src/ops/weights';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { randomFloats } from '../random';
import { dequantizeMatrix, QUANT_TYPES, randomQuantMatrix, REFERENCE_BLOCKS, type QuantType } from '../reference/ggml_quants';

interface Shape {
  tokens: number;
  rows: number;
  cols: number;
}

/** Shapes per type: one token and one row; partial token and row tiles; several K-steps; cols = one block. */
function shapesFor(type: QuantType): Shape[] {
  const block = REFERENCE_BLOCKS[type].values;
  const shapes: Shape[] =
    block === 256
      ? [
          { tokens: 1, rows: 1, cols: 256 },
          { tokens: 3, rows: 7, cols: 256 },
          { tokens: 17, rows: 33, cols: 256 },
          { tokens: 65, rows: 70, cols: 512 },
        ]
      : [
          { tokens: 1, rows: 1, cols: 32 },
          { tokens: 3, rows: 7, cols: 64 },
          { tokens: 17, rows: 33, cols: 256 },
          { tokens: 65, rows: 70, cols: 512 },
        ];
  // Plain float weights allow any multiple of 4: cols that end inside a K-step, and cols shorter than one.
  if (block === 1) shapes.push({ tokens: 5, rows: 9, cols: 4 }, { tokens: 33, rows: 65, cols: 100 });
  return shapes;
}

/** Y = X·Wᵀ (+ bias[n]) (+ residual[t, n]) in float64, W given decoded row-major [rows, cols]. */
function referenceMatmul(
  x: Float32Array,
  w: Float64Array,
  { tokens, rows, cols }: Shape,
  bias?: Float32Array,
  residual?: Float32Array,
): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(tokens * rows);
  // Σ|x·w| per output: the scale rounding error in an f32 (or f16) sum is proportional to.
  const magnitude = new Float64Array(tokens * rows);
  for (let t = 0; t < tokens; t++) {
    for (let n = 0; n < rows; n++) {
      let sum = 0;
      let mag = 0;
      for (let k = 0; k < cols; k++) {
        const p = x[t * cols + k]! * w[n * cols + k]!;
        sum += p;
        mag += Math.abs(p);
      }
      if (bias) {
        sum += bias[n]!;
        mag += Math.abs(bias[n]!);
      }
      if (residual) {
        sum += residual[t * rows + n]!;
        mag += Math.abs(residual[t * rows + n]!);
      }
      y[t * rows + n] = sum;
      magnitude[t * rows + n] = mag;
    }
  }
  return { y, magnitude };
}

/**
 * Every element within rel·Σ|x·w| (+ a floor): f32 accumulation error grows with the magnitudes summed
 * (1e-5 covers a sum of hundreds of terms in any order, fused or not, yet a wrong or missing block of 32
 * values is off by a few percent), and the f16 path also rounds X on upload and Y on store (2^-11 each).
 */
function expectMatches(gpu: Gpu, actual: Float32Array, expected: Float64Array, magnitude: Float64Array, what: string): void {
  const rel = gpu.precision === 'f16' ? 4e-3 : 1e-5;
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const tolerance = rel * magnitude[i]! + 1e-6;
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tolerance)) {
      throw new Error(`${what}: element ${i} is ${a}, expected ${e} (tolerance ${tolerance})`);
    }
  }
}

interface Options {
  bias?: boolean;
  residual?: boolean;
  /** Pass y itself as the residual (Y += X·Wᵀ in place). */
  inPlace?: boolean;
}

/** Uploads seeded data, runs matmul on `gpu`, reads Y back and compares it with the CPU product. */
async function runCase(gpu: Gpu, type: QuantType, shape: Shape, options: Options = {}): Promise<QuantMatrix> {
  const { tokens, rows, cols } = shape;
  const seed = tokens * 7919 + rows * 131 + cols;
  const what = `${type} ${tokens}×${rows}×${cols}${options.bias ? ' +bias' : ''}${options.residual ? ' +residual' : ''}${options.inPlace ? ' (in place)' : ''}`;
  const bytes = randomQuantMatrix(type, rows, cols, seed);
  const weight = uploadQuantMatrix(gpu, type, rows, cols, bytes, `w ${what}`);
  const x = randomFloats(tokens * cols, seed + 1);
  const bias = options.bias ? randomFloats(rows, seed + 2) : undefined;
  const residual = options.residual || options.inPlace ? randomFloats(tokens * rows, seed + 3, 4) : undefined;
  const xBuffer = uploadActivations(gpu, x, 'x');
  const biasBuffer = bias && uploadActivations(gpu, bias, 'bias');
  // Y starts as garbage unless it is the in-place residual, so a kernel that skips an element fails.
  const yBuffer = uploadActivations(gpu, options.inPlace ? residual! : randomFloats(tokens * rows, seed + 4, 100), 'y');
  const residualBuffer = options.residual ? uploadActivations(gpu, residual!, 'residual') : options.inPlace ? yBuffer : undefined;

  const rec = new Recorder(gpu);
  matmul(rec, { weight, x: xBuffer, y: yBuffer, tokens, bias: biasBuffer, residual: residualBuffer });
  rec.submit();
  const actual = await readActivations(gpu, yBuffer, tokens * rows);

  const { y, magnitude } = referenceMatmul(x, dequantizeMatrix(type, bytes, rows, cols), shape, bias, residual);
  expectMatches(gpu, actual, y, magnitude, what);

  for (const b of [xBuffer, yBuffer, biasBuffer, options.residual ? residualBuffer : undefined]) {
    if (b) gpu.allocator.release(b);
  }
  destroyQuantMatrix(gpu, weight);
  return weight;
}

/** A device per precision the adapter supports (f32 always; f16 where shader-f16 exists), made once. */
let devicesOnce: Promise<Gpu[]> | undefined;
function devices(): Promise<Gpu[]> {
  devicesOnce ??= testGpu().then((shared) =>
    Promise.all(precisionsOf(shared).map((precision) => (precision === shared.precision ? shared : makeGpu({ precision })))),
  );
  return devicesOnce;
}

describe('matmul: Y = X·Wᵀ for every weight type', () => {
  for (const type of QUANT_TYPES) {
    it(`${type}: ${shapesFor(type).map((s) => `${s.tokens}×${s.rows}×${s.cols}`).join(', ')}`, async () => {
      for (const gpu of await devices()) {
        for (const shape of shapesFor(type)) await runCase(gpu, type, shape);
      }
    });
  }

  it('covers more than one token tile and row tile at once (130 tokens × 129 rows)', async () => {
    for (const gpu of await devices()) {
      await runCase(gpu, 'Q4_0', { tokens: 130, rows: 129, cols: 64 });
      await runCase(gpu, 'Q6_K', { tokens: 130, rows: 129, cols: 256 });
    }
  });
});

describe('matmul: fused bias and residual', () => {
  const variants: Options[] = [{ bias: true }, { residual: true }, { bias: true, residual: true }, { inPlace: true }, { bias: true, inPlace: true }];
  for (const variant of variants) {
    const name = [variant.bias && 'bias', variant.residual && 'residual', variant.inPlace && 'residual in place (residual === y)'].filter(Boolean).join(' + ');
    it(name, async () => {
      for (const gpu of await devices()) {
        await runCase(gpu, 'Q8_0', { tokens: 3, rows: 7, cols: 64 }, variant);
        await runCase(gpu, 'Q4_K', { tokens: 17, rows: 70, cols: 256 }, variant);
      }
    });
  }
});

describe('matmul: weight split across several bindings', () => {
  it('dispatches per shard and offsets Y columns and bias by the shard’s first row', async () => {
    // 6 KiB bindings hold X (5 × 256 f32) but split every weight: e.g. Q4_0 rows of 144 bytes → 42 per
    // shard, so shard boundaries fall inside a 64-row tile; Q2_K rows of 84 bytes → 73 per shard, F32 rows
    // of 1 KiB → 5 per shard.
    const shape = { tokens: 5, rows: 100, cols: 256 };
    for (const precision of precisionsOf(await testGpu())) {
      const gpu = await makeGpu({ precision, maxBindingBytes: 6144 });
      for (const type of QUANT_TYPES) {
        const weight = await runCase(gpu, type, shape);
        expect(weight.data.shards.length).toBeGreaterThan(1);
      }
      await runCase(gpu, 'Q6_K', shape, { bias: true, residual: true });
      await runCase(gpu, 'Q4_0', shape, { bias: true, inPlace: true });
      gpu.destroy();
    }
  });
});

describe('matmul: invalid arguments', () => {
  it('throws InvalidArgumentError for shapes that do not fit', async () => {
    const gpu = await testGpu();
    const bpe = gpu.precision === 'f16' ? 2 : 4;
    const weight = createQuantMatrix(gpu, 'Q4_0', 8, 64, 'w');
    const buffer = (elements: number) => gpu.allocator.createBuffer(elements * bpe, 'buf');
    const x = buffer(4 * 64);
    const y = buffer(4 * 8);
    const rec = new Recorder(gpu);
    const call = (args: Partial<Parameters<typeof matmul>[1]>) => () => matmul(rec, { weight, x, y, tokens: 4, ...args });

    expect(call({})).not.toThrow();
    expect(call({ tokens: 0 })).toThrow(InvalidArgumentError);
    expect(call({ tokens: 2.5 })).toThrow(/tokens/);
    expect(call({ tokens: 5 })).toThrow(/x holds \d+ bytes, .* need/); // X holds 4 tokens
    expect(call({ y: buffer(4 * 7) })).toThrow(/y holds \d+ bytes, .* need/);
    expect(call({ bias: buffer(4) })).toThrow(/bias holds \d+ bytes, .* need/);
    expect(call({ residual: buffer(4 * 7) })).toThrow(/residual holds \d+ bytes, .* need/);
    expect(call({ y: x })).toThrow(/y must be a different buffer from x/);
    expect(call({ residual: x })).toThrow(/x must be a different buffer from residual/);
    expect(call({ bias: y })).toThrow(/y must be a different buffer from bias/);
    // Plain float rows may have any length, but the kernel reads four values at a time.
    const odd = createQuantMatrix(gpu, 'F32', 8, 6, 'odd');
    expect(call({ weight: odd })).toThrow(/multiple of 4/);
    // A matrix whose declared shape disagrees with its data.
    expect(call({ weight: { ...weight, cols: 96 } })).toThrow(/needs 8 rows of 54 bytes/);
    rec.submit();
    destroyQuantMatrix(gpu, weight);
    destroyQuantMatrix(gpu, odd);
  });
});
