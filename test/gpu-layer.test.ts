// The GPU layer against plain expectations: capability report, the binding-size rule, streamed uploads
// at awkward chunk sizes, typed errors, and device loss as an event.
import { describe, expect, it } from 'vitest';
import { BindingTooLargeError, DeviceLostError, InpageError } from '../src/errors';
import copySource from '../kernels/copy_words.wgsl?raw';
import { preprocess, readBuffer, Recorder, RowUploader, uniforms } from '../src/gpu';
import { copyWords } from '../src/ops/copy';
import { makeGpu, testGpu } from './gpu';
import { randomBytes } from './random';

describe('device and capabilities', () => {
  it('reports adapter, features and the raised limits', async () => {
    const gpu = await testGpu();
    const c = gpu.caps;
    expect(typeof c.features.shaderF16).toBe('boolean');
    expect(typeof c.features.subgroups).toBe('boolean');
    expect(typeof c.features.timestampQuery).toBe('boolean');
    // We ask for the adapter's maxima: the device limit equals the adapter's (1 GiB on SwiftShader, not the 128 MiB default).
    expect(c.limits.maxStorageBufferBindingSize).toBe(gpu.adapter.limits.maxStorageBufferBindingSize);
    expect(c.limits.maxBufferSize).toBe(gpu.adapter.limits.maxBufferSize);
    expect(c.limits.maxComputeInvocationsPerWorkgroup).toBe(gpu.adapter.limits.maxComputeInvocationsPerWorkgroup);
  });

  it('chooses the f32 path when the adapter has no shader-f16', async () => {
    const gpu = await testGpu();
    expect(gpu.precision).toBe(gpu.caps.features.shaderF16 ? 'f16' : 'f32');
    if (!gpu.caps.features.shaderF16) {
      await expect(makeGpu({ precision: 'f16' })).rejects.toMatchObject({ code: 'UnsupportedFeature' });
    }
    const forced = await makeGpu({ precision: 'f32' });
    expect(forced.precision).toBe('f32');
    forced.destroy();
  });

  it('fails with a typed error when there is no WebGPU', async () => {
    const { acquireGpu } = await import('../src/gpu');
    await expect(acquireGpu({ gpu: undefined })).rejects.toBeInstanceOf(InpageError);
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU;
    await expect(acquireGpu({ gpu: noAdapter })).rejects.toMatchObject({ code: 'NoAdapter' });
  });
});

describe('allocator', () => {
  it('never creates a storage buffer larger than the binding limit', async () => {
    const gpu = await makeGpu({ maxBindingBytes: 4096 });
    expect(() => gpu.allocator.createBuffer(8192, 'too big')).toThrow(BindingTooLargeError);
    // 100 rows of 18-byte Q4_0 blocks × 10 = 180 bytes per row → 22 rows per 4 KiB shard.
    const rows = gpu.allocator.createRows(100, 180, 'weights');
    expect(rows.shards.length).toBe(5);
    for (const s of rows.shards) expect(s.buffer.size).toBeLessThanOrEqual(4096);
    expect(rows.shards.reduce((n, s) => n + s.rows, 0)).toBe(100);
    gpu.destroy();
  });

  it('streams rows in chunks of any size across shards, byte-exact', async () => {
    const gpu = await makeGpu({ maxBindingBytes: 1024 });
    const rowBytes = 210; // one Q6_K block: not a multiple of 4
    const rows = gpu.allocator.createRows(23, rowBytes, 'q6k');
    const data = randomBytes(23 * rowBytes, 7);
    const up = new RowUploader(gpu, rows);
    for (let pos = 0, step = 1; pos < data.length; pos += step, step = (step * 7 + 3) % 97 || 1) {
      up.write(data.subarray(pos, Math.min(data.length, pos + step)));
    }
    up.finish();
    for (const s of rows.shards) {
      const got = new Uint8Array(await readBuffer(gpu, s.buffer, 0, Math.ceil(s.byteLength / 4) * 4));
      expect(got.subarray(0, s.byteLength)).toEqual(data.subarray(s.firstRow * rowBytes, s.firstRow * rowBytes + s.byteLength));
    }
    expect(() => up.write(new Uint8Array(1))).toThrow(/exceeds/);
    gpu.destroy();
  });

  it('tracks live and peak bytes', async () => {
    const gpu = await makeGpu();
    const before = gpu.allocator.liveBytes;
    const b = gpu.allocator.createBuffer(1000, 'x');
    expect(gpu.allocator.liveBytes - before).toBe(1008);
    gpu.allocator.release(b);
    expect(gpu.allocator.liveBytes).toBe(before);
    expect(gpu.allocator.peakBytes).toBeGreaterThanOrEqual(before + 1008);
    gpu.destroy();
  });
});

describe('pipelines and dispatch', () => {
  it('compiles each variant once and runs a kernel', async () => {
    const gpu = await testGpu();
    const src = randomBytes(4096, 1);
    const a = gpu.allocator.createBufferFrom(src, 'a');
    const b = gpu.allocator.createBuffer(4096, 'b');
    const rec = new Recorder(gpu);
    copyWords(rec, a, b, 4096);
    const n = gpu.pipelines.size;
    copyWords(rec, a, b, 4096);
    expect(gpu.pipelines.size).toBe(n);
    rec.submit();
    expect(new Uint8Array(await readBuffer(gpu, b))).toEqual(src);
  });

  it('turns bad WGSL into a ShaderCompileError', async () => {
    const gpu = await testGpu();
    await expect(gpu.pipelines.compile({ name: 'broken', source: '@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }', uniforms: uniforms({ n: 'u32' }) }))
      .rejects.toMatchObject({ code: 'ShaderCompile' });
  });

  it('turns a validation error into a typed error at the next readback', async () => {
    const gpu = await makeGpu();
    const small = gpu.allocator.createBuffer(16, 'small');
    const big = gpu.allocator.createBuffer(4096, 'big');
    const rec = new Recorder(gpu);
    const kernel = { name: 'copy_words', source: copySource, uniforms: uniforms({ count: 'u32' }) };
    const pipeline = gpu.pipelines.get(kernel, { constants: { WG: 256 } });
    rec.dispatch(pipeline, kernel.uniforms.pack({ count: 256 }), [{ buffer: small, offset: 0, size: 4096 }, big], [1]); // range past the end: invalid
    rec.submit();
    await expect(readBuffer(gpu, big)).rejects.toMatchObject({ code: 'GpuValidation' });
    // The device stays usable afterwards.
    const rec2 = new Recorder(gpu);
    copyWords(rec2, small, big, 16);
    rec2.submit();
    await expect(readBuffer(gpu, small)).resolves.toBeInstanceOf(ArrayBuffer);
    gpu.destroy();
  });

  it('surfaces device loss as an event and a typed error', async () => {
    const gpu = await makeGpu();
    const lost = new Promise((resolve) => gpu.onDeviceLost(resolve));
    gpu.destroy();
    expect(await lost).toMatchObject({ reason: 'destroyed' });
    expect(() => new Recorder(gpu)).toThrow(DeviceLostError);
  });

  it('preprocesses #if / #else / #endif', () => {
    const src = 'a\n#if X\nb\n#else\nc\n#endif\n#if !X\nd\n#endif\ne';
    expect(preprocess(src, { X: true }).split('\n').filter(Boolean)).toEqual(['a', 'b', 'e']);
    expect(preprocess(src, { X: false }).split('\n').filter(Boolean)).toEqual(['a', 'c', 'd', 'e']);
  });
});
