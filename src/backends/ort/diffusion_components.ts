/**
 * The three Stable Diffusion components on onnxruntime-web, WebGPU or WASM execution provider, behind the
 * interfaces of src/diffusion/components.ts (ortComponentExecutor below is what src/backends/diffusion_backend.ts
 * hands the diffusion loader). Input and
 * output types are read from each model's own declarations (src/formats/onnx/model_info.ts) before a
 * session is made: token ids int32 or int64, the UNet timestep int64 / int32 / float (scalar, [1] or
 * [batch]), float16 or float32 activations. Half-precision models run only on WebGPU with `shader-f16`
 * (onnxruntime-web's WASM kernels do not cover fp16); anything else fails with a typed error before loading.
 *
 * On WebGPU the text embeddings are uploaded once per image and stay on the GPU for every UNet step (they are
 * the largest per-step input besides the weights); the latents themselves go up and the noise prediction
 * comes back each step, because the scheduler and the NaN guard run on the CPU (4·h·w floats: 64 KiB at
 * 512×512).
 */
import type * as OrtModule from 'onnxruntime-web';
import { InvalidArgumentError, ModelFileError, UnsupportedFeatureError } from '../../errors';
import type { OnnxModelInfo, OnnxValueInfo } from '../../formats/onnx/model_info';
import { fromF16Array, toF16Array } from '../../gpu/f16';
import type { ComponentBackend, ComponentExecutor, ComponentFile, FloatTensor, TextEncoder, Unet, VaeDecoder } from '../../diffusion/components';
import { loadOrt, type OrtRuntimeOptions } from './ort_runtime';

export type Ort = typeof OrtModule;
type Session = OrtModule.InferenceSession;
type OrtTensor = OrtModule.Tensor;
export type OrtBackend = ComponentBackend;
export type { ComponentFile };

/** Where onnxruntime-web's files are and how many WASM threads (shared with the LLM's ORT backend). */
export type OrtSettings = OrtRuntimeOptions;

/** onnxruntime-web's build for `backend`, imported once on first use (./ort_runtime.ts). */
export function loadOrtFor(backend: OrtBackend, settings: OrtSettings = {}): Promise<Ort> {
  return loadOrt(backend, settings) as Promise<Ort>;
}

/**
 * The executor the diffusion loader makes its components with: onnxruntime-web on `backend`, loaded on
 * prepare(); half-precision files refused unless WebGPU with shader-f16.
 */
export function ortComponentExecutor(backend: OrtBackend, reason: string, shaderF16: boolean, settings: OrtSettings = {}): ComponentExecutor {
  let ort: Ort | undefined;
  const ready = async () => (ort ??= await loadOrtFor(backend, settings));
  return {
    backend,
    reason,
    runtimeName: 'onnxruntime-web',
    prepare: async () => void (await ready()),
    check: (file) => checkPrecision(file, backend, shaderF16),
    textEncoder: async (file) => {
      const o = await ready();
      return new OrtTextEncoder(o, await createSession(o, file, backend), file);
    },
    unet: async (file) => {
      const o = await ready();
      return new OrtUnet(o, await createSession(o, file, backend), file, backend);
    },
    vaeDecoder: async (file) => {
      const o = await ready();
      return new OrtVaeDecoder(o, await createSession(o, file, backend), file);
    },
  };
}

export async function createSession(ort: Ort, file: ComponentFile, backend: OrtBackend): Promise<Session> {
  const options: OrtModule.InferenceSession.SessionOptions = {
    executionProviders: [backend],
    graphOptimizationLevel: 'all',
    externalData: file.externalData.length ? file.externalData.map((e) => ({ path: e.path, data: e.data })) : undefined,
  };
  try {
    return await ort.InferenceSession.create(file.model, options);
  } catch (e) {
    throw new ModelFileError('InvalidModelFile', `${file.name}: onnxruntime-web (${backend}) could not load it: ${(e as Error)?.message ?? e}`, { cause: e });
  }
}

/** Does this component compute in half precision (judged by its declared inputs and outputs)? */
export function isFp16(info: OnnxModelInfo): boolean {
  return [...info.inputs, ...info.outputs].some((v) => v.type === 'float16');
}

/**
 * Refuses a half-precision model where it cannot run: WASM, or WebGPU without shader-f16. Called before any
 * session is made, so nothing is half-loaded.
 */
export function checkPrecision(file: ComponentFile, backend: OrtBackend, shaderF16: boolean): void {
  if (!isFp16(file.info)) return;
  if (backend === 'wasm') {
    throw new UnsupportedFeatureError('shader-f16', `${file.name} is a half-precision (fp16) export, which runs only on WebGPU with shader-f16, not on the WASM backend; use the fp32 export of this model, or backend: 'webgpu' on a GPU with shader-f16`);
  }
  if (!shaderF16) {
    throw new UnsupportedFeatureError('shader-f16', `${file.name} is a half-precision (fp16) export, but this GPU's WebGPU adapter has no shader-f16; use the fp32 export of this model (it runs on WebGPU without shader-f16, or on WASM)`);
  }
}

function findIo(list: OnnxValueInfo[], name: string, file: ComponentFile, kind: 'input' | 'output'): OnnxValueInfo {
  const v = list.find((x) => x.name === name);
  if (!v) {
    throw new ModelFileError('InvalidModelFile', `${file.name} has no ${kind} named ${name} (it has ${list.map((x) => x.name).join(', ') || 'none'}); is this a Stable Diffusion ONNX export?`);
  }
  return v;
}

/** A declared fixed batch (a number in the first dimension) caps the batch one call may take. */
function maxBatchOf(v: OnnxValueInfo): number {
  const d = v.shape[0];
  return typeof d === 'number' && d > 0 ? d : Infinity;
}

function floatTensor(ort: Ort, type: OnnxValueInfo['type'], data: Float32Array, dims: number[]): OrtTensor {
  if (type === 'float16') return new ort.Tensor('float16', toF16Array(data), dims);
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  throw new InvalidArgumentError(`unsupported tensor type ${type} for a float input`);
}

function toFloat(t: OrtTensor, component: string): FloatTensor {
  let data: Float32Array;
  if (t.type === 'float32') data = t.data as Float32Array;
  else if (t.type === 'float16') {
    const raw = t.data as unknown;
    data = raw instanceof Uint16Array ? fromF16Array(raw) : Float32Array.from(raw as ArrayLike<number>);
  } else throw new ModelFileError('InvalidModelFile', `${component} returned ${t.type}, expected a float tensor`);
  return { data, dims: [...t.dims] };
}

async function runOne(session: Session, feeds: Record<string, OrtTensor>, output: string, component: string): Promise<OrtTensor> {
  let results: Record<string, OrtTensor>;
  try {
    results = (await session.run(feeds, [output])) as Record<string, OrtTensor>;
  } catch (e) {
    const msg = (e as Error)?.message ?? String(e);
    throw new Error(`${component}: onnxruntime-web run failed: ${msg}`, { cause: e });
  }
  return results[output]!;
}

export class OrtTextEncoder implements TextEncoder {
  readonly hiddenSize: number;
  readonly maxBatch: number;
  private readonly ids: OnnxValueInfo;
  private readonly out: string;

  constructor(private readonly ort: Ort, private readonly session: Session, file: ComponentFile) {
    this.ids = findIo(file.info.inputs, 'input_ids', file, 'input');
    if (this.ids.type !== 'int32' && this.ids.type !== 'int64') throw new ModelFileError('InvalidModelFile', `${file.name}: input_ids is ${this.ids.type}, expected int32 or int64`);
    const out = findIo(file.info.outputs, 'last_hidden_state', file, 'output');
    this.out = out.name;
    this.hiddenSize = typeof out.shape[2] === 'number' ? out.shape[2] : 0;
    this.maxBatch = maxBatchOf(this.ids);
  }

  async encode(ids: Int32Array, batch: number): Promise<FloatTensor> {
    const dims = [batch, ids.length / batch];
    const t = this.ids.type === 'int64' ? new this.ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), dims) : new this.ort.Tensor('int32', ids, dims);
    const out = toFloat(await runOne(this.session, { [this.ids.name]: t }, this.out, 'text_encoder'), 'text_encoder');
    t.dispose();
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export class OrtUnet implements Unet {
  readonly maxBatch: number;
  readonly fp16: boolean;
  private readonly sample: OnnxValueInfo;
  private readonly timestep: OnnxValueInfo;
  private readonly hidden: OnnxValueInfo;
  private readonly out: string;
  /**
   * The embeddings' tensors for the image being generated, uploaded once (on WebGPU they stay on the GPU):
   * one for a batched guidance pass, or two (unconditional and conditional) for two passes.
   */
  private embedded: { source: FloatTensor; tensor: OrtTensor; buffer?: GPUBuffer }[] = [];

  constructor(private readonly ort: Ort, private readonly session: Session, file: ComponentFile, private readonly backend: OrtBackend) {
    this.sample = findIo(file.info.inputs, 'sample', file, 'input');
    this.timestep = findIo(file.info.inputs, 'timestep', file, 'input');
    this.hidden = findIo(file.info.inputs, 'encoder_hidden_states', file, 'input');
    const out = file.info.outputs.find((o) => o.name === 'out_sample') ?? file.info.outputs[0];
    if (!out) throw new ModelFileError('InvalidModelFile', `${file.name} has no outputs`);
    this.out = out.name;
    this.maxBatch = Math.min(maxBatchOf(this.sample), maxBatchOf(this.hidden));
    this.fp16 = isFp16(file.info);
  }

  async predict(latents: FloatTensor, t: number, embeddings: FloatTensor): Promise<FloatTensor> {
    const batch = latents.dims[0]!;
    const sample = floatTensor(this.ort, this.sample.type, latents.data, latents.dims);
    const ts = this.timestepTensor(t, batch);
    const hidden = await this.embeddingsTensor(embeddings);
    try {
      const out = await runOne(this.session, { [this.sample.name]: sample, [this.timestep.name]: ts, [this.hidden.name]: hidden }, this.out, 'unet');
      const result = toFloat(out, 'unet');
      out.dispose();
      return result;
    } finally {
      sample.dispose();
      ts.dispose();
    }
  }

  /** Frees the embeddings kept for the last image (the pipeline calls this when an image is done). */
  endImage(): void {
    for (const e of this.embedded) {
      e.tensor.dispose();
      e.buffer?.destroy();
    }
    this.embedded = [];
  }

  /** The timestep as the model declares it: its element type, and a scalar, [1], [n] or [batch]. */
  private timestepTensor(t: number, batch: number): OrtTensor {
    const decl = this.timestep.shape;
    const dims = decl.length === 0 ? [] : [typeof decl[0] === 'number' ? decl[0] : batch];
    const n = dims.length === 0 ? 1 : dims[0]!;
    switch (this.timestep.type) {
      case 'int64':
        return new this.ort.Tensor('int64', new BigInt64Array(n).fill(BigInt(Math.round(t))), dims);
      case 'int32':
        return new this.ort.Tensor('int32', new Int32Array(n).fill(Math.round(t)), dims);
      case 'float32':
        return new this.ort.Tensor('float32', new Float32Array(n).fill(t), dims);
      case 'float16':
        return new this.ort.Tensor('float16', toF16Array(new Float32Array(n).fill(t)), dims);
      case 'double':
        return new this.ort.Tensor('float64', new Float64Array(n).fill(t), dims);
      default:
        throw new ModelFileError('InvalidModelFile', `unet: timestep is ${this.timestep.type}; expected int64, int32 or a float type`);
    }
  }

  private async embeddingsTensor(e: FloatTensor): Promise<OrtTensor> {
    const kept = this.embedded.find((x) => x.source === e);
    if (kept) return kept.tensor;
    if (this.embedded.length >= 2) this.endImage();
    const cpu = floatTensor(this.ort, this.hidden.type, e.data, e.dims);
    if (this.backend === 'webgpu') {
      try {
        const device = (await this.ort.env.webgpu.device) as GPUDevice;
        const bytes = cpu.data as Float32Array | Uint16Array;
        const size = Math.ceil(bytes.byteLength / 16) * 16;
        const buffer = device.createBuffer({ size, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        device.queue.writeBuffer(buffer, 0, bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
        const tensor = this.ort.Tensor.fromGpuBuffer(buffer as never, { dataType: this.hidden.type === 'float16' ? 'float16' : 'float32', dims: e.dims });
        cpu.dispose();
        this.embedded.push({ source: e, tensor, buffer });
        this.onGpu = true;
        return tensor;
      } catch {
        // No device handle from this onnxruntime-web build: feed the CPU tensor (uploaded by ORT each step).
      }
    }
    this.embedded.push({ source: e, tensor: cpu });
    return cpu;
  }

  /** Whether the embeddings were kept on the GPU (for info / diagnostics). */
  onGpu = false;

  async release(): Promise<void> {
    this.endImage();
    await this.session.release();
  }
}

export class OrtVaeDecoder implements VaeDecoder {
  private readonly input: OnnxValueInfo;
  private readonly out: string;

  constructor(private readonly ort: Ort, private readonly session: Session, file: ComponentFile) {
    this.input = findIo(file.info.inputs, 'latent_sample', file, 'input');
    const out = file.info.outputs.find((o) => o.name === 'sample') ?? file.info.outputs[0];
    if (!out) throw new ModelFileError('InvalidModelFile', `${file.name} has no outputs`);
    this.out = out.name;
  }

  async decode(latents: FloatTensor): Promise<FloatTensor> {
    const t = floatTensor(this.ort, this.input.type, latents.data, latents.dims);
    try {
      const out = await runOne(this.session, { [this.input.name]: t }, this.out, 'vae_decoder');
      const r = toFloat(out, 'vae_decoder');
      out.dispose();
      return r;
    } finally {
      t.dispose();
    }
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
