// The decode matrix-vector kernels (y = W·x for one token) against a float64 CPU product, for every GGUF
// weight type, at shapes with partial row groups, misaligned (2-byte) block runs, W split across several
// bindings, and the fused bias / residual variants. Weights are decoded on the CPU by test/reference,
// which shares no code with the kernels; the reference itself is first checked on hand-made blocks.
import { describe, expect, it } from 'vitest';
import packedWeights from '../../kernels/common/packed_weights.wgsl?raw';
import { InvalidArgumentError } from '../../src/errors';
import { readBuffer, Recorder, readActivations, uniforms, uploadActivations, type Gpu, type Precision } from '../../src/gpu';
import { matvec, matvecLayout, matvecVariant, type MatvecLayout } from '../../src/ops/matvec';
import { destroyQuantMatrix, uploadQuantMatrix, type QuantMatrix } from '../../src/ops/weights';
import { makeGpu, precisionsOf, testGpu } from '../gpu';
import { randomFloats } from '../random';
import {
  dequantizeMatrix,
  dequantizeRow,
  halfToNumber,
  QUANT_TYPES,
  randomQuantMatrix,
  referenceRowBytes,
  REFERENCE_BLOCKS,
  type QuantType,
} from '../reference/ggml_quants';

const PRECISIONS = precisionsOf(await testGpu());
const gpus = new Map<Precision, Promise<Gpu>>();
function gpuFor(precision: Precision): Promise<Gpu> {
  let g = gpus.get(precision);
  if (!g) gpus.set(precision, (g = makeGpu({ precision })));
  return g;
}

/** Relative tolerance on Σ|w·x|: f32 accumulation, or f16 rounding of x on upload and of y on store. */
const REL: Record<Precision, number> = { f32: 1e-5, f16: 3e-3 };

interface Shape {
  rows: number;
  cols: number;
}

/**
 * Rows 1, just under / past a row group (4) and a workgroup's rows, a few hundred; cols of one block, odd
 * block counts (so every other row starts 2 bytes into a word for 18-, 34- and 210-byte blocks), and
 * lengths that are not a power of two.
 */
function shapesFor(type: QuantType): Shape[] {
  const block = REFERENCE_BLOCKS[type].values;
  if (block === 256) {
    return [
      { rows: 1, cols: 256 },
      { rows: 7, cols: 256 },
      { rows: 65, cols: 768 },
      { rows: 257, cols: 512 },
      { rows: 300, cols: 1024 },
    ];
  }
  const shapes = [
    { rows: 1, cols: 32 },
    { rows: 7, cols: 64 },
    { rows: 5, cols: 96 },
    { rows: 65, cols: 256 },
    { rows: 33, cols: 160 },
    { rows: 257, cols: 512 },
    { rows: 300, cols: 1024 },
  ];
  // Plain float rows may have any length: one value, lengths that end inside a vec4 and inside a unit of 8.
  if (block === 1) shapes.push({ rows: 3, cols: 1 }, { rows: 9, cols: 5 }, { rows: 17, cols: 99 }, { rows: 6, cols: 12 });
  return shapes;
}

/** y = W·x (+ add) in float64, and Σ|w·x| (+|add|) per row, the scale of the rounding error. */
function reference(w: Float64Array, x: Float32Array, { rows, cols }: Shape, adds: Float32Array[] = []): { y: Float64Array; magnitude: Float64Array } {
  const y = new Float64Array(rows);
  const magnitude = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    let mag = 0;
    for (let k = 0; k < cols; k++) {
      const p = w[r * cols + k]! * x[k]!;
      sum += p;
      mag += Math.abs(p);
    }
    for (const a of adds) {
      sum += a[r]!;
      mag += Math.abs(a[r]!);
    }
    y[r] = sum;
    magnitude[r] = mag;
  }
  return { y, magnitude };
}

function expectRowsClose(got: Float32Array, want: { y: Float64Array; magnitude: Float64Array }, rel: number, what: string): void {
  expect(got.length).toBe(want.y.length);
  for (let r = 0; r < want.y.length; r++) {
    const tol = rel * want.magnitude[r]! + 1e-30;
    if (!(Math.abs(got[r]! - want.y[r]!) <= tol)) {
      throw new Error(`${what}: row ${r} is ${got[r]}, expected ${want.y[r]} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

interface RunOptions {
  bias?: boolean;
  residual?: 'separate' | 'in-place';
  /** Forces a layout; otherwise the device's own choice. */
  layout?: MatvecLayout;
}

/**
 * Every layout the dispatcher can pick on some adapter, run here whatever this adapter would pick: one
 * invocation per row (software adapters) with and without subgroup-shared x, a few invocations per group,
 * and the real-GPU layout (up to 64 invocations per group, tree reduction). The last two also exercise
 * lanes left without a unit when rows are short.
 */
const LAYOUTS: [string, MatvecLayout][] = [
  ['row per invocation', { subgroups: false, tpr: 1, workgroup: 16 }],
  ['4 invocations per row group', { subgroups: false, tpr: 4, workgroup: 64 }],
  ['64 invocations per row group', { subgroups: false, tpr: 64, workgroup: 128 }],
];
if ((await testGpu()).caps.features.subgroups) LAYOUTS.push(['row per invocation, subgroup-shared x', { subgroups: true, tpr: 1, workgroup: 16 }]);

/** Uploads seeded W, x (and bias / residual), runs matvec, and compares with the float64 reference. */
async function checkMatvec(gpu: Gpu, type: QuantType, shape: Shape, seed: number, opts: RunOptions = {}): Promise<QuantMatrix> {
  const { rows, cols } = shape;
  const bytes = randomQuantMatrix(type, rows, cols, seed);
  const x = randomFloats(cols, seed + 1);
  const weight = uploadQuantMatrix(gpu, type, rows, cols, bytes, `w ${type}`);
  const xb = uploadActivations(gpu, x, 'x');
  const adds: Float32Array[] = [];
  const bias = opts.bias ? randomFloats(rows, seed + 2, 4) : undefined;
  const residual = opts.residual ? randomFloats(rows, seed + 3, 4) : undefined;
  const biasBuffer = bias && uploadActivations(gpu, bias, 'bias');
  const residualBuffer = residual && opts.residual === 'separate' ? uploadActivations(gpu, residual, 'residual') : undefined;
  // In place, y starts as the residual; otherwise y starts as garbage the kernel must overwrite.
  const yb = uploadActivations(gpu, residual && opts.residual === 'in-place' ? residual : randomFloats(rows, seed + 4, 1000), 'y');
  const rec = new Recorder(gpu);
  matvec(rec, { weight, x: xb, y: yb, bias: biasBuffer, residual: opts.residual === 'in-place' ? yb : residualBuffer }, opts.layout);
  rec.submit();
  const got = await readActivations(gpu, yb, rows);
  // The f16 path stores x and the added vectors in f16: the reference sees what the GPU saw.
  const stored = (v: Float32Array) => (gpu.precision === 'f16' ? Float32Array.from(v, (a) => Math.fround(roundHalf(a))) : v);
  if (bias) adds.push(stored(bias));
  if (residual) adds.push(stored(residual));
  const want = reference(dequantizeMatrix(type, bytes, rows, cols), stored(x), shape, adds);
  expectRowsClose(got, want, REL[gpu.precision], `${type} ${rows}×${cols} ${gpu.precision} ${JSON.stringify(opts)}`);
  await gpu.checkErrors();
  for (const b of [xb, yb, biasBuffer, residualBuffer]) if (b) gpu.allocator.release(b);
  return weight;
}

/** Nearest binary16 value (ties to even), for modelling the f16 upload of activations. */
function roundHalf(v: number): number {
  if (v === 0 || !Number.isFinite(v)) return v;
  const e = Math.max(Math.floor(Math.log2(Math.abs(v))), -14);
  const ulp = 2 ** (e - 10);
  const q = v / ulp;
  const f = Math.floor(q);
  const r = q - f > 0.5 || (q - f === 0.5 && f % 2 !== 0) ? f + 1 : f;
  return r * ulp;
}

describe('reference decoders (hand-made blocks)', () => {
  it('decodes f16 bit patterns, including subnormals and specials', () => {
    expect(halfToNumber(0x3c00)).toBe(1);
    expect(halfToNumber(0xc000)).toBe(-2);
    expect(halfToNumber(0x3555)).toBeCloseTo(0.333251953125, 12);
    expect(halfToNumber(0x0001)).toBe(2 ** -24);
    expect(halfToNumber(0x7bff)).toBe(65504);
    expect(halfToNumber(0x7c00)).toBe(Infinity);
    expect(halfToNumber(0x7e00)).toBeNaN();
  });

  it('Q4_0: low nibbles are values 0..15, high nibbles 16..31, offset 8', () => {
    const b = new Uint8Array(18);
    b[0] = 0x00; b[1] = 0x40; // d = 2
    b[2] = 0x9f; // qs[0]: low 15 → value 0 = 2·7, high 9 → value 16 = 2·1
    b[17] = 0x03; // qs[15]: low 3 → value 15 = 2·(−5), high 0 → value 31 = 2·(−8)
    const y = dequantizeRow('Q4_0', b, 32);
    expect([y[0], y[16], y[15], y[31], y[1]]).toEqual([14, 2, -10, -16, -16]);
  });

  it('Q8_0: signed bytes times d', () => {
    const b = new Uint8Array(34);
    b[0] = 0x00; b[1] = 0xb8; // d = −0.5
    b[2] = 0x7f; b[3] = 0x80; b[33] = 0xff;
    const y = dequantizeRow('Q8_0', b, 32);
    expect([y[0], y[1], y[31], y[2]]).toEqual([-63.5, 64, 0.5, -0]);
  });

  it('Q4_K: get_scale_min_k4 packing and the chunk / nibble order', () => {
    const b = new Uint8Array(144);
    b[0] = 0x00; b[1] = 0x3c; // d = 1
    b[2] = 0x00; b[3] = 0x38; // dmin = 0.5
    const sc = b.subarray(4, 16);
    // Sub-block 1: scale = sc[1] & 63 = 5, min = sc[5] & 63 = 3 (the top bits belong to sub-block 5).
    sc[1] = 0xc5; sc[5] = 0x43;
    // Sub-block 5: scale = (sc[9] & 15) | (sc[1] >> 6) << 4 = 2 | 48 = 50, min = (sc[9] >> 4) | (sc[5] >> 6) << 4 = 7 | 16 = 23.
    sc[9] = 0x72;
    const qs = b.subarray(16);
    qs[0] = 0x9a; // value 0 (sub-block 0, scale 0 min 0): 0; value 32 (sub-block 1): 1·5·9 − 0.5·3
    qs[64 + 3] = 0xb0; // chunk 2, l = 3: value 128+3 (sub-block 4) low 0; value 160+3 (sub-block 5) high 11
    const y = dequantizeRow('Q4_K', b, 256);
    expect(y[0]).toBe(0);
    expect(y[32]).toBe(45 - 1.5);
    expect(y[33]).toBe(-1.5); // q = 0 in sub-block 1
    expect(y[163]).toBe(50 * 11 - 0.5 * 23);
    expect(y[131]).toBe(0);
  });

  it('Q6_K: ql / qh / scale interleaving of dequantize_row_q6_K', () => {
    const b = new Uint8Array(210);
    b[208] = 0x00; b[209] = 0x3c; // d = 1
    const ql = b.subarray(0, 128);
    const qh = b.subarray(128, 192);
    const sc = b.subarray(192, 208);
    for (let i = 0; i < 16; i++) sc[i] = i + 1; // scale of 16-value group i = i + 1
    sc[13] = 0xfe; // −2
    // Half 1 (values 128..255), l = 17: ql[64+17] low → value 128+17, high → value 128+17+64;
    // ql[64+49] low → value 128+49, high → 128+113; qh[32+17] bits 0-1, 2-3, 4-5, 6-7 in that order.
    ql[64 + 17] = 0x5a; // low 10, high 5
    ql[64 + 49] = 0xc3; // low 3, high 12
    qh[32 + 17] = 0b11_10_01_00; // high bits 0, 1, 2, 3
    const y = dequantizeRow('Q6_K', b, 256);
    // value 145: scale index 8 + 1 + 0 = 9 → 10; q = 10 − 32
    expect(y[145]).toBe(10 * (10 - 32));
    // value 177 (l + 32): sc[8 + 1 + 2] = 12; q = 3 | 1 << 4 = 19 − 32
    expect(y[177]).toBe(12 * (19 - 32));
    // value 209 (l + 64): sc[8 + 1 + 4] = −2; q = 5 | 2 << 4 = 37 − 32
    expect(y[209]).toBe(-2 * 5);
    // value 241 (l + 96): sc[8 + 1 + 6] = 16; q = 12 | 3 << 4 = 60 − 32
    expect(y[241]).toBe(16 * 28);
    expect(y[0]).toBe(1 * -32);
  });

  it('random matrices have finite, moderate scales and the right size', () => {
    for (const type of QUANT_TYPES) {
      const bytes = randomQuantMatrix(type, 3, 256, 11);
      expect(bytes.length).toBe(3 * referenceRowBytes(type, 256));
      const w = dequantizeMatrix(type, bytes, 3, 256);
      const maxAbs = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      expect(w.every(Number.isFinite)).toBe(true);
      expect(maxAbs).toBeGreaterThan(0);
      expect(maxAbs).toBeLessThan(200);
    }
  });
});

describe('packed_weights.wgsl dequant4_* agree with the reference', () => {
  // A tiny kernel that writes every element of a matrix through the shared decoders, byte-addressed by row.
  const layout = uniforms({ rows: 'u32', cols: 'u32', row_bytes: 'u32' });
  const source = /* wgsl */ `
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4<f32>>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let quads = params.cols / 4u;
  let i = gid.x;
  if (i < params.rows * quads) {
    let row = i / quads;
    out[i] = DECODE(row * params.row_bytes, 4u * (i % quads));
  }
}`;
  for (const type of QUANT_TYPES) {
    it(type, async () => {
      const gpu = await testGpu();
      const cols = REFERENCE_BLOCKS[type].values === 256 ? 512 : 96;
      const rows = 5; // odd: rows of 2-mod-4-byte blocks (Q4_0, Q5_0, Q8_0, IQ4_NL, Q3_K, Q6_K) alternate between 4- and 2-byte alignment
      const bytes = randomQuantMatrix(type, rows, cols, 99);
      const weight = uploadQuantMatrix(gpu, type, rows, cols, bytes, 'w');
      const out = gpu.allocator.createBuffer(rows * cols * 4, 'out');
      const kernel = { name: `dequant4_test_${type}`, source: source.replace('DECODE', `dequant4_${type.toLowerCase()}`), uniforms: layout, includes: [packedWeights] };
      const pipeline = await gpu.pipelines.compile(kernel);
      const rec = new Recorder(gpu);
      rec.dispatch(pipeline, layout.pack({ rows, cols, row_bytes: referenceRowBytes(type, cols) }), [weight.data.shards[0]!.buffer, out], [Math.ceil((rows * cols) / 4 / 64)]);
      rec.submit();
      const got = new Float32Array(await readBuffer(gpu, out));
      const want = dequantizeMatrix(type, bytes, rows, cols);
      // The decoders multiply in f32: exact up to one or two roundings of the products.
      for (let i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i]! - want[i]!) <= 2 ** -22 * Math.abs(want[i]!) + 1e-30)) {
          throw new Error(`${type}: element ${i} (row ${Math.floor(i / cols)}, col ${i % cols}) is ${got[i]}, expected ${want[i]}`);
        }
      }
      destroyQuantMatrix(gpu, weight);
      gpu.allocator.release(out);
    });
  }
});

describe.each(PRECISIONS)('matvec (%s activations)', (precision) => {
  describe.each(QUANT_TYPES)('%s', (type) => {
    it.each(LAYOUTS)('matches the float64 reference at awkward shapes: %s', async (_, layout) => {
      const gpu = await gpuFor(precision);
      let seed = 1000;
      for (const shape of shapesFor(type)) {
        destroyQuantMatrix(gpu, await checkMatvec(gpu, type, shape, (seed += 10), { layout }));
      }
    });

    it('fuses bias, a separate residual, both, and an in-place residual (device layout and 64 per group)', async () => {
      const gpu = await gpuFor(precision);
      const shape = REFERENCE_BLOCKS[type].values === 256 ? { rows: 13, cols: 512 } : { rows: 13, cols: 160 };
      const fused: RunOptions[] = [{ bias: true }, { residual: 'separate' }, { bias: true, residual: 'separate' }, { residual: 'in-place' }, { bias: true, residual: 'in-place' }];
      let seed = 2000;
      for (const layout of [undefined, LAYOUTS[2]![1]]) {
        for (const opts of fused) destroyQuantMatrix(gpu, await checkMatvec(gpu, type, shape, (seed += 10), { ...opts, layout }));
      }
    });

    it('dispatches once per shard when W spans several bindings (device layout and 64 per group)', async () => {
      const cols = REFERENCE_BLOCKS[type].values === 256 ? 256 : REFERENCE_BLOCKS[type].values === 1 ? 99 : 160;
      const rows = 67;
      // 17 rows per shard (an odd count: shards start at rows of both alignments) → 4 shards.
      const limit = 17 * referenceRowBytes(type, cols) + 16;
      const gpu = await makeGpu({ precision, maxBindingBytes: Math.max(limit, 4 * cols + 16) });
      for (const layout of [undefined, LAYOUTS[2]![1]]) {
        const weight = await checkMatvec(gpu, type, { rows, cols }, 3000, { bias: true, layout });
        expect(weight.data.shards.length).toBeGreaterThanOrEqual(3);
        destroyQuantMatrix(gpu, weight);
      }
      gpu.destroy();
    });
  });
});

describe('matvec variant choice and argument checks', () => {
  it('picks the f32 path on an adapter without shader-f16, and the device precision otherwise', async () => {
    const gpu = await testGpu();
    const v = matvecVariant(gpu, 'Q4_K', 4096);
    expect(v.kernel).toBe('matvec_q4_k');
    expect(v.precision).toBe(gpu.caps.features.shaderF16 ? 'f16' : 'f32');
    const forced = await gpuFor('f32');
    expect(matvecVariant(forced, 'Q4_0', 896).precision).toBe('f32');
    // Short rows give spare lanes to more row groups rather than leaving them idle.
    const short = matvecVariant(gpu, 'Q4_0', 32);
    expect(short.constants.TPR).toBe(1);
    expect(short.rowsPerWorkgroup).toBe(short.constants.GROUPS * 4);
    // Software adapters walk whole rows per invocation, sharing x over subgroups where they exist.
    const layout = matvecLayout(gpu, 'Q6_K', 4096);
    if (gpu.caps.adapter.isFallbackAdapter) expect(layout).toEqual({ subgroups: gpu.caps.features.subgroups, tpr: 1, workgroup: 16 });
    else expect(layout).toEqual({ subgroups: false, tpr: 64, workgroup: 128 });
    expect(matvecVariant(gpu, 'Q6_K', 4096).defines.SUBGROUPS).toBe(layout.subgroups);
  });

  it('rejects bad shapes and buffers with InvalidArgumentError', async () => {
    const gpu = await testGpu();
    const bpe = gpu.precision === 'f16' ? 2 : 4;
    const weight = uploadQuantMatrix(gpu, 'Q8_0', 8, 64, randomQuantMatrix('Q8_0', 8, 64, 5), 'w');
    const x = gpu.allocator.createBuffer(64 * bpe, 'x');
    const y = gpu.allocator.createBuffer(8 * bpe, 'y');
    const small = gpu.allocator.createBuffer(4 * bpe, 'small');
    const rec = new Recorder(gpu);
    const bad: [string, () => void][] = [
      ['cols not a block multiple', () => matvec(rec, { weight: { ...weight, cols: 48 }, x, y })],
      ['shape does not match the data', () => matvec(rec, { weight: { ...weight, rows: 9 }, x, y })],
      ['y too short', () => matvec(rec, { weight, x, y: small })],
      ['x too short for cols', () => matvec(rec, { weight, x: small, y })],
      ['bias too short', () => matvec(rec, { weight, x, y, bias: small })],
      ['residual too short', () => matvec(rec, { weight, x, y, residual: small })],
      ['x is y', () => matvec(rec, { weight, x, y: x })],
      ['bias is y', () => matvec(rec, { weight, x, y, bias: y })],
      ['zero rows', () => matvec(rec, { weight: { ...weight, rows: 0 }, x, y })],
      ['tpr not a power of two', () => matvec(rec, { weight, x, y }, { subgroups: false, tpr: 3, workgroup: 48 })],
      ['subgroups with tpr > 1', () => matvec(rec, { weight, x, y }, { subgroups: true, tpr: 4, workgroup: 64 })],
      ['workgroup too large', () => matvec(rec, { weight, x, y }, { subgroups: false, tpr: 64, workgroup: 4096 })],
    ];
    for (const [what, call] of bad) expect(call, what).toThrow(InvalidArgumentError);
    expect(rec.dispatches).toBe(0);
    destroyQuantMatrix(gpu, weight);
    for (const b of [x, y, small]) gpu.allocator.release(b);
  });
});
