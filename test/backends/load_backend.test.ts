/**
 * loadModel's routing (src/backends/load_backend.ts): format detection, which loader runs with which
 * backend, the reason given, and the 'auto' fallback when our kernels refuse a file — with fake GPUs and a
 * fake native loader (the loaders themselves are tested in onnx_model.test.ts, test/llm and e2e).
 */
import { describe, expect, test } from 'vitest';
import { loadOnBackend, modelFormatOf } from '../../src/backends/load_backend';
import { BackendUnavailableError, ModelFileError } from '../../src/errors';
import type { LanguageModel } from '../../src/llm/language_model';

const adapterGpu = (info: Record<string, unknown>) =>
  ({ requestAdapter: async () => ({ info: { vendor: '', architecture: '', description: '', ...info }, features: new Set(), limits: {}, requestDevice: async () => ({ destroy() {} }) }) }) as unknown as GPU;
const swiftshader = adapterGpu({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true });
const hardware = adapterGpu({ vendor: 'nvidia', architecture: 'ada', isFallbackAdapter: false });

function fakeNative(refuseWebgpu?: ModelFileError) {
  const calls: string[] = [];
  const native = async (o: { backend?: string }) => {
    calls.push(o.backend ?? 'none');
    if (o.backend === 'webgpu' && refuseWebgpu) throw refuseWebgpu;
    return { info: { backend: 'x', backendReason: 'x' } } as unknown as LanguageModel;
  };
  return { calls, io: { open: async () => ({ source: { bytes: new Uint8Array() } }), native } };
}

test('format: ONNX for files or a folder URL, else GGUF', () => {
  expect(modelFormatOf({ url: '/m/model.gguf' })).toBe('gguf');
  expect(modelFormatOf({ url: 'https://hf.co/x/resolve/main/' })).toBe('onnx');
  expect(modelFormatOf({ files: {} })).toBe('onnx');
  expect(modelFormatOf({ url: '/m/folder', format: 'onnx' })).toBe('onnx');
});

describe('GGUF routing', () => {
  test('a GPU passed in means our kernels under auto, even a software one', async () => {
    const { calls, io } = fakeNative();
    const events: string[] = [];
    const llm = await loadOnBackend({ url: '/m.gguf', gpu: swiftshader, onProgress: (e) => events.push(e.message) }, io);
    expect(calls).toEqual(['webgpu']);
    expect(llm.info).toMatchObject({ backend: 'webgpu', backendReason: 'a GPU was passed in' });
    expect(events).toContain('backend webgpu: a GPU was passed in');
  });
  test("an already acquired Gpu (acquireGpu({ gpu })) with backend 'webgpu' or 'auto' runs our kernels on it, navigator.gpu or not", async () => {
    const acquired = { device: {}, adapter: {} } as unknown as GPU; // a Gpu: what acquireGpu returns
    expect(typeof (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBe('undefined'); // Node: no navigator.gpu
    for (const backend of ['webgpu', 'auto'] as const) {
      const { calls, io } = fakeNative();
      const llm = await loadOnBackend({ url: '/m.gguf', backend, gpu: acquired }, io);
      expect(calls).toEqual(['webgpu']);
      expect(llm.info.backend).toBe('webgpu');
    }
  });
  test("explicit 'wasm' and 'ort-webgpu' go to the ORT loader; 'ort-webgpu' without an adapter is refused", async () => {
    const { calls, io } = fakeNative();
    expect((await loadOnBackend({ url: '/m.gguf', backend: 'wasm', gpu: hardware }, io)).info).toMatchObject({ backend: 'wasm', backendReason: 'requested' });
    expect((await loadOnBackend({ url: '/m.gguf', backend: 'ort-webgpu', gpu: swiftshader }, io)).info.backend).toBe('ort-webgpu');
    expect(calls).toEqual(['wasm', 'ort-webgpu']);
    const none = { requestAdapter: async () => null } as unknown as GPU;
    await expect(loadOnBackend({ url: '/m.gguf', backend: 'ort-webgpu', gpu: none }, io)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
  test('auto: shapes our kernels refuse → wasm with the reason; explicit webgpu → BackendUnavailable', async () => {
    const refusal = new ModelFileError('UnsupportedArchitecture', 'attention heads of 16 values are not supported');
    const a = fakeNative(refusal);
    const llm = await loadOnBackend({ url: '/m.gguf', backend: 'auto', gpu: hardware, format: 'gguf' }, { ...a.io });
    // With a GPU passed in, auto asks for our kernels first; the refusal moves it to WASM.
    expect(a.calls).toEqual(['webgpu', 'wasm']);
    expect(llm.info.backend).toBe('wasm');
    expect(llm.info.backendReason).toContain('heads of 16');
    const b = fakeNative(refusal);
    await expect(loadOnBackend({ url: '/m.gguf', backend: 'webgpu', gpu: hardware }, b.io)).rejects.toMatchObject({ code: 'BackendUnavailable' });
    // Other errors are not turned into a fallback.
    const c = fakeNative(new ModelFileError('TruncatedFile', 'cut short'));
    await expect(loadOnBackend({ url: '/m.gguf', gpu: hardware }, c.io)).rejects.toMatchObject({ code: 'TruncatedFile' });
  });
  test('a weight type no backend runs is the ModelFileError itself, on auto and on an explicit webgpu', async () => {
    // Every backend runs the same weight types (onnxruntime-web dequantizes what MatMulNBits cannot hold),
    // so falling back or calling it a backend problem would only hide what is wrong with the file.
    const refusal = new ModelFileError('UnsupportedQuantType', 'tensor "blk.0.ffn_down.weight" has type IQ2_XS');
    for (const backend of ['auto', 'webgpu'] as const) {
      const a = fakeNative(refusal);
      await expect(loadOnBackend({ url: '/m.gguf', backend, gpu: hardware }, a.io)).rejects.toBe(refusal);
      expect(a.calls).toEqual(['webgpu']);
    }
  });
});

describe("the backend choice's trial device", () => {
  /** A hardware adapter whose devices record whether they were destroyed, and what was asked of them. */
  function countingGpu() {
    const devices: { destroyed: boolean; descriptor?: GPUDeviceDescriptor }[] = [];
    const adapter = {
      info: { vendor: 'nvidia', architecture: 'ada', description: '', isFallbackAdapter: false },
      features: new Set(['shader-f16']),
      limits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30 },
      requestDevice: async (descriptor?: GPUDeviceDescriptor) => {
        const d = { destroyed: false, descriptor };
        devices.push(d);
        return { destroy: () => void (d.destroyed = true) };
      },
    };
    return { gpu: { requestAdapter: async () => adapter } as unknown as GPU, devices };
  }

  test('our kernels take over the trial device: one device in all, requested as acquireGpu would', async () => {
    const { gpu, devices } = countingGpu();
    let taken: unknown;
    const native = async (_o: unknown, takeDevice?: () => unknown) => {
      taken = takeDevice?.();
      return { info: {} } as unknown as LanguageModel;
    };
    await loadOnBackend({ url: '/m.gguf', backend: 'webgpu', gpu, precision: 'f32' }, { open: async () => ({ source: { bytes: new Uint8Array() } }), native });
    expect(devices).toHaveLength(1);
    expect(taken).toMatchObject({ device: expect.anything(), adapter: expect.anything() });
    expect(devices[0]!.destroyed).toBe(false); // the model owns it now
    expect(devices[0]!.descriptor).toMatchObject({ requiredFeatures: [], requiredLimits: { maxBufferSize: 1 << 30, maxStorageBufferBindingSize: 1 << 30 } });
  });

  test('a device nobody takes is destroyed: the engine failed before taking it, or the choice was not our kernels', async () => {
    const a = countingGpu();
    const early = async () => {
      throw new ModelFileError('TruncatedFile', 'cut short');
    };
    await expect(loadOnBackend({ url: '/m.gguf', gpu: a.gpu }, { open: async () => ({ source: { bytes: new Uint8Array() } }), native: early })).rejects.toMatchObject({ code: 'TruncatedFile' });
    expect(a.devices.map((d) => d.destroyed)).toEqual([true]);

    const b = countingGpu();
    const { calls, io } = fakeNative();
    await loadOnBackend({ url: '/m.gguf', backend: 'ort-webgpu', gpu: b.gpu }, io);
    expect(calls).toEqual(['ort-webgpu']);
    expect(b.devices.map((d) => d.destroyed)).toEqual([true]);
    expect(b.devices[0]!.descriptor).toBeUndefined(); // a plain trial: onnxruntime-web makes its own device
  });
});
