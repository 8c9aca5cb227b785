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
  ({ requestAdapter: async () => ({ info: { vendor: '', architecture: '', description: '', ...info }, requestDevice: async () => ({ destroy() {} }) }) }) as unknown as GPU;
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
  test("explicit 'wasm' and 'ort-webgpu' go to the ORT loader; 'ort-webgpu' without an adapter is refused", async () => {
    const { calls, io } = fakeNative();
    expect((await loadOnBackend({ url: '/m.gguf', backend: 'wasm', gpu: hardware }, io)).info).toMatchObject({ backend: 'wasm', backendReason: 'requested' });
    expect((await loadOnBackend({ url: '/m.gguf', backend: 'ort-webgpu', gpu: swiftshader }, io)).info.backend).toBe('ort-webgpu');
    expect(calls).toEqual(['wasm', 'ort-webgpu']);
    const none = { requestAdapter: async () => null } as unknown as GPU;
    await expect(loadOnBackend({ url: '/m.gguf', backend: 'ort-webgpu', gpu: none }, io)).rejects.toBeInstanceOf(BackendUnavailableError);
  });
  test('auto: weight types our kernels refuse → wasm with the reason; explicit webgpu → BackendUnavailable', async () => {
    const refusal = new ModelFileError('UnsupportedQuantType', 'weight type IQ2_XS is not supported');
    const a = fakeNative(refusal);
    const llm = await loadOnBackend({ url: '/m.gguf', backend: 'auto', gpu: hardware, format: 'gguf' }, { ...a.io });
    // With a GPU passed in, auto asks for our kernels first; the refusal moves it to WASM.
    expect(a.calls).toEqual(['webgpu', 'wasm']);
    expect(llm.info.backend).toBe('wasm');
    expect(llm.info.backendReason).toContain('IQ2_XS');
    const b = fakeNative(refusal);
    await expect(loadOnBackend({ url: '/m.gguf', backend: 'webgpu', gpu: hardware }, b.io)).rejects.toMatchObject({ code: 'BackendUnavailable' });
    // Other errors are not turned into a fallback.
    const c = fakeNative(new ModelFileError('TruncatedFile', 'cut short'));
    await expect(loadOnBackend({ url: '/m.gguf', gpu: hardware }, c.io)).rejects.toMatchObject({ code: 'TruncatedFile' });
  });
});
