import {
  DeviceLostError,
  GpuOutOfMemoryError,
  GpuValidationError,
  InpageError,
  WebGPUUnavailableError,
} from '../errors';
import { BufferAllocator } from './allocator';
import { describeCapabilities, RAISED_LIMITS, type GpuCapabilities } from './capabilities';
import { PipelineCache, type Precision } from './pipelines';

export interface AcquireGpuOptions {
  /** A `GPU` object to use instead of `navigator.gpu` (Node: `create([])` from the `webgpu` package). */
  gpu?: GPU;
  powerPreference?: GPUPowerPreference;
  /**
   * 'auto' (default) uses f16 activations where the device has `shader-f16`, else f32.
   * 'f32' forces the f32 path everywhere. 'f16' fails with UnsupportedFeature if the device lacks it.
   */
  precision?: 'auto' | Precision;
  /**
   * Cap on bytes per storage binding, below the device's own limit. Tests use it to force tensors to be
   * split across several bindings on a device whose real limit is large.
   */
  maxBindingBytes?: number;
}

export interface DeviceLostInfo {
  reason: string;
  message: string;
}

type Listener<T> = (value: T) => void;

/**
 * One WebGPU device and everything bound to it: capabilities, the buffer allocator (which owns the
 * binding-size rule), the pipeline cache, and error reporting. Everything above `gpu/` takes a Gpu.
 */
export class Gpu {
  readonly caps: GpuCapabilities;
  readonly allocator: BufferAllocator;
  readonly pipelines: PipelineCache;
  /** The activation precision every op uses on this device: 'f16' only where shader-f16 exists. */
  readonly precision: Precision;
  private lostInfo: DeviceLostInfo | undefined;
  private readonly lostListeners = new Set<Listener<DeviceLostInfo>>();
  private readonly errorListeners = new Set<Listener<InpageError>>();
  /** Error-scope results not yet looked at; checked at every synchronisation point (readback). */
  private pendingChecks: Promise<InpageError | undefined>[] = [];
  /**
   * The `GPU` object the device came from when the caller passed one in, held for as long as this Gpu:
   * with Node's `webgpu` package, a `create([])` object nobody references is garbage-collected under a
   * live device and the process aborts natively (seen during a weight upload).
   */
  readonly api: GPU | undefined;

  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    options: AcquireGpuOptions = {},
  ) {
    this.api = options.gpu;
    this.caps = describeCapabilities(adapter, device);
    const wanted = options.precision ?? 'auto';
    if (wanted === 'f16' && !this.caps.features.shaderF16) {
      throw new InpageError('UnsupportedFeature', "precision 'f16' needs the adapter feature shader-f16, which this device lacks; use 'auto' or 'f32'");
    }
    this.precision = wanted === 'auto' ? (this.caps.features.shaderF16 ? 'f16' : 'f32') : wanted;
    const bindingLimit = Math.min(
      this.caps.limits.maxStorageBufferBindingSize,
      this.caps.limits.maxBufferSize,
      options.maxBindingBytes ?? Infinity,
    );
    this.allocator = new BufferAllocator(this, bindingLimit);
    this.pipelines = new PipelineCache(this);
    device.lost.then((info) => {
      this.lostInfo = { reason: info.reason, message: info.message };
      for (const l of this.lostListeners) l(this.lostInfo);
    });
    device.addEventListener('uncapturederror', (event) => {
      const err = toTypedError((event as GPUUncapturedErrorEvent).error);
      for (const l of this.errorListeners) l(err);
    });
  }

  get isLost(): boolean {
    return this.lostInfo !== undefined;
  }

  /** Called once when the device is lost. Returns an unsubscribe function. */
  onDeviceLost(listener: Listener<DeviceLostInfo>): () => void {
    if (this.lostInfo) queueMicrotask(() => listener(this.lostInfo!));
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Errors WebGPU raised outside any scope inpage opened (should not happen; reported, not swallowed). */
  onError(listener: Listener<InpageError>): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Throws DeviceLostError if the device is gone: call before starting work. */
  assertAlive(): void {
    if (this.lostInfo) {
      throw new DeviceLostError(
        `the GPU device was lost (${this.lostInfo.reason}: ${this.lostInfo.message}); acquire a new one to continue`,
        this.lostInfo.reason,
      );
    }
  }

  /**
   * Runs `fn` inside validation and out-of-memory error scopes. The scopes are checked later, at the next
   * `checkErrors()` (every readback calls it), so hot paths never wait on the GPU for error reporting.
   */
  scoped<T>(fn: () => T): T {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = fn();
    } finally {
      const validation = this.device.popErrorScope();
      const oom = this.device.popErrorScope();
      this.pendingChecks.push(
        Promise.all([validation, oom]).then(([v, o]) => (v ? toTypedError(v) : o ? toTypedError(o) : undefined)),
      );
    }
    return result;
  }

  /** Like `scoped`, but waits for the scopes and throws the typed error at once. */
  async scopedNow<T>(fn: () => T): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = fn();
    } finally {
      const v = await this.device.popErrorScope();
      const o = await this.device.popErrorScope();
      if (v) throw toTypedError(v);
      if (o) throw toTypedError(o);
    }
    return result;
  }

  /** Throws the first error that any earlier scoped GPU call produced, or DeviceLostError. */
  async checkErrors(): Promise<void> {
    const checks = this.pendingChecks;
    this.pendingChecks = [];
    const errors = await Promise.all(checks);
    this.assertAlive();
    const first = errors.find((e) => e !== undefined);
    if (first) throw first;
  }

  /** Destroys the device. Listeners see a 'destroyed' loss. */
  destroy(): void {
    this.pipelines.clear();
    this.device.destroy();
  }
}

function toTypedError(error: GPUError): InpageError {
  const name = (error as { constructor?: { name?: string } }).constructor?.name ?? '';
  if (name === 'GPUOutOfMemoryError' || /out of memory/i.test(error.message)) {
    return new GpuOutOfMemoryError(`GPU out of memory: ${error.message}`);
  }
  return new GpuValidationError(`WebGPU validation error: ${error.message}`);
}

/** An adapter and a device requested from it with deviceRequestFor (the backend choice's trial device). */
export interface RequestedDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
}

/**
 * What acquireGpu asks an adapter for: its maximum buffer and workgroup limits, and the optional features
 * our kernels can use (shader-f16 unless precision is 'f32').
 */
export function deviceRequestFor(adapter: GPUAdapter, precision?: AcquireGpuOptions['precision']): GPUDeviceDescriptor {
  const optional: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
  const requiredFeatures = optional.filter((f) => adapter.features.has(f) && !(f === 'shader-f16' && precision === 'f32'));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = adapter.limits[name];
  return { requiredFeatures, requiredLimits, label: 'inpage' };
}

/**
 * Gets a device from `navigator.gpu` (or the injected `options.gpu`) as deviceRequestFor describes, or
 * takes over `requested`: a device already requested that way (the runtime's backend choice tries one, and
 * hands it on rather than have a second one created). Either way the returned Gpu owns the device.
 */
export async function acquireGpu(options: AcquireGpuOptions = {}, requested?: RequestedDevice): Promise<Gpu> {
  if (requested) return adopt(requested, options);
  const gpu = options.gpu ?? (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGPUUnavailableError('NoWebGPU', 'WebGPU is not available here (no navigator.gpu); a secure context (https or localhost) and a WebGPU-capable browser are needed');
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError('NoAdapter', 'navigator.gpu.requestAdapter() returned no adapter (WebGPU disabled, blocklisted GPU, or no driver)');
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice(deviceRequestFor(adapter, options.precision));
  } catch (cause) {
    throw new WebGPUUnavailableError('DeviceRequestFailed', `requestDevice failed: ${(cause as Error)?.message ?? cause}`, { cause });
  }
  return adopt({ adapter, device }, options);
}

/** A Gpu owning `requested.device`; the device is destroyed if the options cannot be met (f16 without shader-f16). */
function adopt(requested: RequestedDevice, options: AcquireGpuOptions): Gpu {
  try {
    return new Gpu(requested.adapter, requested.device, options);
  } catch (e) {
    requested.device.destroy();
    throw e;
  }
}
