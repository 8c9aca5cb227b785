/**
 * The ONNX graph builder's output, run by onnxruntime-node (the reference executor) and by
 * onnxruntime-web's WASM build, against plain CPU arithmetic computed here.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { OnnxGraphBuilder } from '../../src/formats/onnx/graph_builder';
import { encodeVarint } from '../../src/formats/onnx/protobuf';

ortWeb.env.wasm.numThreads = 1;

async function runBoth(model: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>, externalData?: { path: string; data: Uint8Array }) {
  const out: Float32Array[] = [];
  // onnxruntime-node reads external data from files beside the model, as optimum exports ship them.
  let nodeSession;
  if (externalData) {
    const dir = mkdtempSync(join(tmpdir(), 'onnx-'));
    writeFileSync(join(dir, 'model.onnx'), model);
    writeFileSync(join(dir, externalData.path), externalData.data);
    nodeSession = await ortNode.InferenceSession.create(join(dir, 'model.onnx'));
  } else {
    nodeSession = await ortNode.InferenceSession.create(model);
  }
  const nodeFeeds = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ortNode.Tensor('float32', v.data, v.dims)]));
  out.push((await nodeSession.run(nodeFeeds)).y!.data as Float32Array);
  const webSession = await ortWeb.InferenceSession.create(model, { executionProviders: ['wasm'], externalData: externalData ? [externalData] : undefined });
  const webFeeds = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ortWeb.Tensor('float32', v.data, v.dims)]));
  out.push((await webSession.run(webFeeds)).y!.data as Float32Array);
  return out;
}

describe('protobuf varints', () => {
  test('match the wire format', () => {
    expect(Array.from(encodeVarint(1))).toEqual([1]);
    expect(Array.from(encodeVarint(300))).toEqual([0xac, 0x02]);
    // Negative int64 values take ten bytes (two's complement, as protobuf requires).
    expect(Array.from(encodeVarint(-1))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });
});

describe('OnnxGraphBuilder', () => {
  test('MatMul + Add + Softmax(axis=-1) with symbolic batch, inline and external initializers', async () => {
    const K = 40, N = 7, M = 3;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 0.37));
    const bias = Float32Array.from({ length: N }, (_, i) => i * 0.1 - 0.3);
    const x = Float32Array.from({ length: M * K }, (_, i) => Math.cos(i * 0.11));
    const expected: number[] = [];
    for (let m = 0; m < M; m++) {
      const row = Array.from({ length: N }, (_, n) => {
        let s = bias[n]!;
        for (let k = 0; k < K; k++) s += x[m * K + k]! * w[k * N + n]!;
        return s;
      });
      const max = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
      expected.push(...row.map((v) => Math.exp(v - max) / z));
    }
    for (const external of [false, true]) {
      const g = new OnnxGraphBuilder('softmax_linear');
      g.input('x', 'float32', ['batch', K]);
      g.initializer('W', { type: 'float32', dims: [K, N], data: w });
      g.floats('b', [N], bias);
      const h = g.op('Add', [g.op('MatMul', ['x', 'W']), 'b']);
      g.node('Softmax', [h], ['y'], { axis: -1 });
      g.output('y', 'float32', ['batch', N]);
      const built = g.build(external ? { externalDataPath: 'model.onnx_data', externalThreshold: 64 } : {});
      expect(built.externalData !== undefined).toBe(external);
      for (const y of await runBoth(built.model, { x: { data: x, dims: [M, K] } }, built.externalData)) {
        expect(y.length).toBe(M * N);
        y.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      }
    }
  });

  test('MatMulNBits (4 and 8 bits, block 32) reproduces scale·(q − 2^(bits−1)) weights', async () => {
    const K = 96, N = 5;
    for (const bits of [4, 8]) {
      const blocks = K / 32, blob = (32 * bits) / 8;
      const q = new Uint8Array(N * blocks * blob);
      const scales = new Float32Array(N * blocks);
      const w = new Float32Array(N * K);
      for (let n = 0; n < N; n++) for (let b = 0; b < blocks; b++) {
        scales[n * blocks + b] = 0.25 + 0.5 * n - 0.3 * b;
        for (let j = 0; j < 32; j++) {
          const v = (n * 7 + b * 3 + j * 5) % (1 << bits);
          w[n * K + b * 32 + j] = scales[n * blocks + b]! * (v - (1 << (bits - 1)));
          // 4 bits: element 2i in the low nibble of byte i, element 2i+1 in the high nibble.
          q[(n * blocks + b) * blob + (bits === 4 ? j >> 1 : j)]! |= bits === 4 ? v << ((j & 1) * 4) : v;
        }
      }
      const g = new OnnxGraphBuilder('nbits', { '': 21, 'com.microsoft': 1 });
      g.input('x', 'float32', [2, K]);
      g.initializer('B', { type: 'uint8', dims: [N, blocks, blob], data: q });
      g.initializer('scales', { type: 'float32', dims: [N * blocks], data: scales });
      g.node('MatMulNBits', ['x', 'B', 'scales'], ['y'], { K, N, bits, block_size: 32 }, 'com.microsoft');
      g.output('y', 'float32', [2, N]);
      const x = Float32Array.from({ length: 2 * K }, (_, i) => Math.sin(i * 0.7));
      for (const y of await runBoth(g.build().model, { x: { data: x, dims: [2, K] } })) {
        for (let m = 0; m < 2; m++) for (let n = 0; n < N; n++) {
          let ref = 0;
          for (let k = 0; k < K; k++) ref += w[n * K + k]! * x[m * K + k]!;
          expect(Math.abs(y[m * N + n]! - ref)).toBeLessThan(1e-4 * (1 + Math.abs(ref)));
        }
      }
    }
  });

  test('refuses an initializer whose bytes do not match its shape', () => {
    const g = new OnnxGraphBuilder('bad');
    expect(() => g.initializer('w', { type: 'float32', dims: [2, 3], data: new Float32Array(5) })).toThrow(/expected 24/);
  });
});
