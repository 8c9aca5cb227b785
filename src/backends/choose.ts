/**
 * Which engine runs a model: our WGSL kernels ('webgpu'), onnxruntime-web on its WebGPU execution provider
 * ('ort-webgpu'), or onnxruntime-web on WebAssembly ('wasm').
 *
 * `backend: 'auto'` (the default) uses our kernels only on a *hardware* adapter that gives a device and
 * for a model whose weight types they run; everywhere else it uses onnxruntime-web's WASM build. A software
 * adapter (SwiftShader, which Chromium and Dawn report with `isFallbackAdapter` and vendor 'google' /
 * architecture 'swiftshader') counts as no GPU for 'auto': on a CPU, WASM's SIMD matmuls beat emulated
 * shaders. ONNX models never run on our kernels: 'auto' gives them 'ort-webgpu' on a hardware adapter, else
 * 'wasm'.
 *
 * An explicit backend is used as asked or fails with BackendUnavailableError saying why: no silent slow path.
 * Explicit 'webgpu' / 'ort-webgpu' accept any adapter, software ones included.
 *
 * The decision itself (`decideBackend`) is a pure function of observed facts, so its table is unit-tested
 * with fake adapters; `chooseBackend` gathers the facts (navigator.gpu or an injected GPU).
 */
import { BackendUnavailableError } from '../errors';
import { deviceRequestFor, type AcquireGpuOptions, type RequestedDevice } from '../gpu';

export type BackendRequest = 'auto' | 'webgpu' | 'ort-webgpu' | 'wasm';
export type Backend = Exclude<BackendRequest, 'auto'>;
export type ModelFormat = 'gguf' | 'onnx';

export interface BackendChoice {
  backend: Backend;
  /** Why, in words, for `llm.info.backendReason` and the progress event. */
  reason: string;
  /** The adapter looked at, when there was one. */
  adapter?: AdapterSummary;
}

/** What the choice needs to know of an adapter. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** A software adapter (SwiftShader, WARP, lavapipe…). */
  software: boolean;
}

/** Everything the decision depends on, observed beforehand. */
export interface BackendFacts {
  requested: BackendRequest;
  format: ModelFormat;
  /** 'no-api': no navigator.gpu (or injected GPU); null: requestAdapter() gave none. */
  adapter: AdapterSummary | null | 'no-api';
  /** requestDevice() on that adapter succeeded (undefined: not tried). */
  device?: { ok: true } | { ok: false; error: string };
  /**
   * Whether our kernels run this model's weight types and shapes (GGUF only; undefined: not known, e.g.
   * the header was not read yet — then only a failed load says so).
   */
  nativeSupport?: { ok: true } | { ok: false; reason: string };
  /** WebAssembly (and so onnxruntime-web's wasm build) is available. */
  wasm: boolean;
}

const BACKENDS: readonly BackendRequest[] = ['auto', 'webgpu', 'ort-webgpu', 'wasm'];

export function isBackendRequest(x: unknown): x is BackendRequest {
  return typeof x === 'string' && (BACKENDS as readonly string[]).includes(x);
}

export function describeAdapter(a: AdapterSummary): string {
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unnamed adapter';
  return a.software ? `${name} (software)` : name;
}

/** Names a software adapter as the user would know it. */
function softwareName(a: AdapterSummary): string {
  const text = `${a.vendor} ${a.architecture} ${a.description}`;
  if (/swiftshader/i.test(text)) return 'SwiftShader';
  if (/llvmpipe|lavapipe/i.test(text)) return 'lavapipe';
  if (/warp|basic render/i.test(text)) return 'WARP';
  return describeAdapter(a);
}

/** The decision table. Throws BackendUnavailableError when an explicit request cannot be met. */
export function decideBackend(f: BackendFacts): BackendChoice {
  const adapter = f.adapter && f.adapter !== 'no-api' ? f.adapter : undefined;
  const noGpu = f.adapter === 'no-api' ? 'no WebGPU in this browser (navigator.gpu is missing)' : f.adapter === null ? 'no WebGPU adapter' : undefined;
  const deviceError = f.device && !f.device.ok ? `the WebGPU adapter gave no device (${f.device.error})` : undefined;
  const withAdapter = (c: Omit<BackendChoice, 'adapter'>): BackendChoice => (adapter ? { ...c, adapter } : c);

  switch (f.requested) {
    case 'webgpu': {
      if (f.format === 'onnx') throw new BackendUnavailableError('webgpu', "inpage's own WebGPU kernels run GGUF files; for an ONNX model ask for 'ort-webgpu' (onnxruntime-web on WebGPU) or 'wasm'");
      if (noGpu) throw new BackendUnavailableError('webgpu', `${noGpu}; use backend 'wasm' (or 'auto') to run on the CPU`);
      if (deviceError) throw new BackendUnavailableError('webgpu', `${deviceError}; use backend 'wasm' (or 'auto')`);
      if (f.nativeSupport && !f.nativeSupport.ok) throw new BackendUnavailableError('webgpu', `${f.nativeSupport.reason}; use backend 'wasm' or 'auto'`);
      return withAdapter({ backend: 'webgpu', reason: `requested (adapter: ${describeAdapter(adapter!)})` });
    }
    case 'ort-webgpu': {
      if (noGpu) throw new BackendUnavailableError('ort-webgpu', `${noGpu}; use backend 'wasm' (or 'auto') to run on the CPU`);
      if (deviceError) throw new BackendUnavailableError('ort-webgpu', `${deviceError}; use backend 'wasm' (or 'auto')`);
      if (!f.wasm) throw new BackendUnavailableError('ort-webgpu', 'onnxruntime-web needs WebAssembly, which this environment does not have');
      return withAdapter({ backend: 'ort-webgpu', reason: `requested (adapter: ${describeAdapter(adapter!)})` });
    }
    case 'wasm': {
      if (!f.wasm) throw new BackendUnavailableError('wasm', "WebAssembly is not available here (disabled by policy?); use backend 'webgpu'");
      return withAdapter({ backend: 'wasm', reason: 'requested' });
    }
    case 'auto':
      break;
    default:
      throw new BackendUnavailableError(String(f.requested), `unknown backend; use one of ${BACKENDS.map((b) => `'${b}'`).join(', ')}`);
  }

  // auto: a GPU that is real hardware, or WASM.
  const fallback = (why: string): BackendChoice => {
    if (!f.wasm) {
      throw new BackendUnavailableError('auto', `${why}, and WebAssembly (the CPU fallback) is not available either`);
    }
    return withAdapter({ backend: 'wasm', reason: why });
  };
  if (noGpu) return fallback(noGpu);
  if (adapter!.software) return fallback(`software adapter (${softwareName(adapter!)}): WASM is faster`);
  if (deviceError) return fallback(deviceError);
  const hw = `hardware adapter: ${describeAdapter(adapter!)}`;
  if (f.format === 'onnx') {
    if (!f.wasm) throw new BackendUnavailableError('auto', 'onnxruntime-web needs WebAssembly, which this environment does not have');
    return withAdapter({ backend: 'ort-webgpu', reason: `${hw} (ONNX model: onnxruntime-web on WebGPU)` });
  }
  if (f.nativeSupport && !f.nativeSupport.ok) return fallback(`${f.nativeSupport.reason} (our kernels), so onnxruntime-web on WASM`);
  return withAdapter({ backend: 'webgpu', reason: hw });
}

/** Reads an adapter's description the way current browsers and Dawn expose it. */
export function summarizeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const vendor = info?.vendor ?? '';
  const architecture = info?.architecture ?? '';
  const description = info?.description ?? '';
  const flagged =
    (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ?? (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  // Older Chromium builds leave isFallbackAdapter unset on SwiftShader; its name gives it away.
  const software = flagged === true || /swiftshader|llvmpipe|lavapipe|microsoft basic render/i.test(`${vendor} ${architecture} ${description}`);
  return { vendor, architecture, description, software };
}

export interface ChooseBackendOptions {
  requested?: BackendRequest;
  format: ModelFormat;
  /** A GPU to ask instead of navigator.gpu (Node: the `webgpu` package). */
  gpu?: GPU;
  nativeSupport?: BackendFacts['nativeSupport'];
  /** The precision our kernels will be asked for (a trial device for them is requested as acquireGpu would). */
  precision?: AcquireGpuOptions['precision'];
}

/**
 * Gathers the facts (adapter, a trial device where it matters) and decides. The trial device is destroyed
 * before returning; the chosen engine acquires its own.
 */
export async function chooseBackend(o: ChooseBackendOptions): Promise<BackendChoice> {
  const { choice, trial } = await chooseBackendKeepingDevice(o);
  trial?.device.destroy();
  return choice;
}

/**
 * chooseBackend, keeping the trial device when the choice is our kernels: for a GGUF file it is requested
 * exactly as acquireGpu requests one (src/gpu/device.ts deviceRequestFor), so the engine can take it over
 * (acquireGpu's `requested`) instead of creating a second device right after this one was destroyed — on a
 * hardware GPU, device creation is a visible part of a cached reload. The caller owns `trial`.
 */
export async function chooseBackendKeepingDevice(o: ChooseBackendOptions): Promise<{ choice: BackendChoice; trial?: RequestedDevice }> {
  const requested = o.requested ?? 'auto';
  const wasm = typeof WebAssembly === 'object' && typeof WebAssembly.instantiate === 'function';
  const facts: BackendFacts = { requested, format: o.format, adapter: 'no-api', wasm, nativeSupport: o.nativeSupport };
  // 'wasm' needs no GPU at all: do not even wake one up.
  if (requested === 'wasm' && wasm) return { choice: decideBackend(facts) };
  const api = o.gpu ?? (typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: GPU }).gpu : undefined);
  let trial: RequestedDevice | undefined;
  if (api) {
    let adapter: GPUAdapter | null = null;
    try {
      adapter = await api.requestAdapter({ powerPreference: 'high-performance' });
    } catch {
      adapter = null;
    }
    facts.adapter = adapter ? summarizeAdapter(adapter) : null;
    // A device is worth trying only where the answer can change the outcome.
    if (adapter && !(requested === 'auto' && facts.adapter!.software)) {
      const forOurKernels = o.format === 'gguf' && requested !== 'ort-webgpu';
      try {
        const device = await adapter.requestDevice(forOurKernels ? deviceRequestFor(adapter, o.precision) : undefined);
        trial = { adapter, device };
        facts.device = { ok: true };
      } catch (e) {
        facts.device = { ok: false, error: (e as Error)?.message ?? String(e) };
      }
    }
  }
  let choice: BackendChoice;
  try {
    choice = decideBackend(facts);
  } catch (e) {
    trial?.device.destroy();
    throw e;
  }
  if (trial && (choice.backend !== 'webgpu' || o.format !== 'gguf')) {
    trial.device.destroy();
    trial = undefined;
  }
  return { choice, trial };
}
