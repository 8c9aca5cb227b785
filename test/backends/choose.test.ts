/**
 * The backend decision table (src/backends/choose.ts), with fake adapters shaped like what Chromium and Dawn
 * report (SwiftShader: vendor 'google', architecture 'swiftshader', isFallbackAdapter true — observed on
 * this machine in Chromium 14x and in Dawn through the `webgpu` package).
 */
import { describe, expect, test } from 'vitest';
import { chooseBackend, decideBackend, summarizeAdapter, type AdapterSummary, type BackendFacts } from '../../src/backends/choose';
import { BackendUnavailableError, InpageError } from '../../src/errors';

const hardware: AdapterSummary = { vendor: 'nvidia', architecture: 'ada', description: 'NVIDIA GeForce RTX 4070', software: false };
const swiftshader: AdapterSummary = { vendor: 'google', architecture: 'swiftshader', description: '', software: true };

const base = (over: Partial<BackendFacts>): BackendFacts => ({ requested: 'auto', format: 'gguf', adapter: hardware, device: { ok: true }, wasm: true, ...over });

function unavailable(f: BackendFacts): BackendUnavailableError {
  try {
    decideBackend(f);
  } catch (e) {
    expect(e).toBeInstanceOf(BackendUnavailableError);
    expect((e as InpageError).code).toBe('BackendUnavailable');
    return e as BackendUnavailableError;
  }
  throw new Error(`expected BackendUnavailableError for ${JSON.stringify(f)}`);
}

describe('auto', () => {
  test('hardware adapter and device, supported GGUF → our kernels', () => {
    const c = decideBackend(base({ nativeSupport: { ok: true } }));
    expect(c.backend).toBe('webgpu');
    expect(c.reason).toMatch(/^hardware adapter: nvidia ada NVIDIA GeForce RTX 4070/);
  });
  test('no navigator.gpu → wasm', () => {
    const c = decideBackend(base({ adapter: 'no-api', device: undefined }));
    expect(c).toEqual({ backend: 'wasm', reason: 'no WebGPU in this browser (navigator.gpu is missing)' });
  });
  test('no adapter → wasm', () => {
    expect(decideBackend(base({ adapter: null, device: undefined }))).toEqual({ backend: 'wasm', reason: 'no WebGPU adapter' });
  });
  test('software adapter (SwiftShader) → wasm, with the reason', () => {
    const c = decideBackend(base({ adapter: swiftshader }));
    expect(c.backend).toBe('wasm');
    expect(c.reason).toBe('software adapter (SwiftShader): WASM is faster');
  });
  test('other software adapters are named', () => {
    const lavapipe = { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 15.0.6, 256 bits)', software: true };
    expect(decideBackend(base({ adapter: lavapipe })).reason).toBe('software adapter (lavapipe): WASM is faster');
  });
  test('hardware adapter whose device request fails → wasm', () => {
    const c = decideBackend(base({ device: { ok: false, error: 'out of memory' } }));
    expect(c.backend).toBe('wasm');
    expect(c.reason).toContain('gave no device (out of memory)');
  });
  test('weight types our kernels lack → wasm, saying which', () => {
    const c = decideBackend(base({ nativeSupport: { ok: false, reason: 'weight type IQ2_XS is not supported' } }));
    expect(c.backend).toBe('wasm');
    expect(c.reason).toContain('IQ2_XS');
  });
  test('ONNX model: hardware → ort-webgpu, software → wasm', () => {
    expect(decideBackend(base({ format: 'onnx' })).backend).toBe('ort-webgpu');
    expect(decideBackend(base({ format: 'onnx', adapter: swiftshader })).backend).toBe('wasm');
    expect(decideBackend(base({ format: 'onnx', adapter: null })).backend).toBe('wasm');
  });
  test('no GPU and no WebAssembly → BackendUnavailable', () => {
    expect(unavailable(base({ adapter: null, wasm: false })).message).toMatch(/WebAssembly/);
  });
});

describe('explicit requests', () => {
  test("'webgpu' takes any adapter, software included", () => {
    const c = decideBackend(base({ requested: 'webgpu', adapter: swiftshader }));
    expect(c.backend).toBe('webgpu');
    expect(c.reason).toContain('requested');
    expect(c.reason).toContain('(software)');
  });
  test("'webgpu' without adapter, device, support or for ONNX → BackendUnavailable with why", () => {
    expect(unavailable(base({ requested: 'webgpu', adapter: 'no-api' })).message).toContain('navigator.gpu is missing');
    expect(unavailable(base({ requested: 'webgpu', adapter: null })).message).toContain('no WebGPU adapter');
    expect(unavailable(base({ requested: 'webgpu', device: { ok: false, error: 'lost' } })).message).toContain('gave no device');
    expect(unavailable(base({ requested: 'webgpu', nativeSupport: { ok: false, reason: 'weight type IQ1_S is not supported' } })).message).toContain('IQ1_S');
    expect(unavailable(base({ requested: 'webgpu', format: 'onnx' })).message).toContain('ort-webgpu');
  });
  test("'ort-webgpu' needs an adapter (any) and WebAssembly", () => {
    expect(decideBackend(base({ requested: 'ort-webgpu', adapter: swiftshader })).backend).toBe('ort-webgpu');
    expect(unavailable(base({ requested: 'ort-webgpu', adapter: null })).backend).toBe('ort-webgpu');
    expect(unavailable(base({ requested: 'ort-webgpu', wasm: false })).message).toContain('WebAssembly');
  });
  test("'wasm' needs only WebAssembly", () => {
    expect(decideBackend(base({ requested: 'wasm', adapter: 'no-api' }))).toEqual({ backend: 'wasm', reason: 'requested' });
    expect(unavailable(base({ requested: 'wasm', wasm: false })).backend).toBe('wasm');
  });
  test('an unknown backend name is refused', () => {
    expect(unavailable(base({ requested: 'webgl' as never })).message).toContain("'auto'");
  });
});

describe('facts from adapters', () => {
  const fakeAdapter = (info: Partial<GPUAdapterInfo> & { isFallbackAdapter?: boolean }, device: 'ok' | 'fail' = 'ok') => {
    let devices = 0;
    let destroyed = 0;
    const adapter = {
      info: { vendor: '', architecture: '', device: '', description: '', ...info },
      features: new Set<string>(),
      limits: {},
      requestDevice: async () => {
        devices++;
        if (device === 'fail') throw new Error('device request refused');
        return { destroy: () => void destroyed++ };
      },
    } as unknown as GPUAdapter;
    return { adapter, devices: () => devices, destroyed: () => destroyed };
  };
  const fakeGpu = (adapter: GPUAdapter | null) => ({ requestAdapter: async () => adapter }) as unknown as GPU;

  test('summarizeAdapter: isFallbackAdapter, or a software name when the flag is missing', () => {
    expect(summarizeAdapter(fakeAdapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }).adapter).software).toBe(true);
    expect(summarizeAdapter(fakeAdapter({ vendor: 'google', architecture: 'swiftshader' }).adapter).software).toBe(true);
    expect(summarizeAdapter(fakeAdapter({ vendor: 'amd', architecture: 'rdna-3', isFallbackAdapter: false }).adapter).software).toBe(false);
  });
  test('chooseBackend asks the injected GPU, tries a device only where it matters', async () => {
    const hw = fakeAdapter({ vendor: 'intel', architecture: 'xe' });
    expect((await chooseBackend({ format: 'gguf', gpu: fakeGpu(hw.adapter) })).backend).toBe('webgpu');
    expect(hw.devices()).toBe(1);
    expect(hw.destroyed()).toBe(1); // chooseBackend keeps no device (the runtime's loader takes its trial device over instead)
    const sw = fakeAdapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true });
    expect(await chooseBackend({ format: 'gguf', gpu: fakeGpu(sw.adapter) })).toMatchObject({ backend: 'wasm', reason: 'software adapter (SwiftShader): WASM is faster' });
    expect(sw.devices()).toBe(0);
    expect((await chooseBackend({ format: 'gguf', requested: 'webgpu', gpu: fakeGpu(sw.adapter) })).backend).toBe('webgpu');
    const broken = fakeAdapter({ vendor: 'intel' }, 'fail');
    expect((await chooseBackend({ format: 'gguf', gpu: fakeGpu(broken.adapter) })).reason).toContain('device request refused');
    expect((await chooseBackend({ format: 'gguf', gpu: fakeGpu(null) })).reason).toBe('no WebGPU adapter');
    await expect(chooseBackend({ format: 'gguf', requested: 'webgpu', gpu: fakeGpu(null) })).rejects.toBeInstanceOf(BackendUnavailableError);
  });
});
