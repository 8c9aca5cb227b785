/**
 * The three networks of a Stable Diffusion pipeline, each behind one small interface, so that an
 * implementation on another executor (our own WGSL UNet, say) can replace the onnxruntime-web one
 * (src/backends/ort/diffusion_components.ts) without the pipeline (./pipeline.ts) changing. The backend layer
 * makes a ComponentExecutor and hands it to the loader (./load.ts), so this folder never imports onnxruntime. Tensors cross as flat Float32Arrays in
 * row-major (NCHW) order with their dims; what an implementation keeps on its device is its own business.
 */
import type { OnnxModelInfo } from '../formats/onnx/model_info';

/** A dense float32 tensor. */
export interface FloatTensor {
  data: Float32Array;
  dims: number[];
}

export interface TextEncoder {
  /** Width of the embeddings (768 for SD 1.x, 1024 for SD 2.x / SD-Turbo). */
  readonly hiddenSize: number;
  /** Largest batch one encode() call may take (1 for exports with a static batch). */
  readonly maxBatch: number;
  /** Token ids [batch, 77] (row-major) → last_hidden_state [batch, 77, hiddenSize]. */
  encode(ids: Int32Array, batch: number): Promise<FloatTensor>;
  release(): Promise<void>;
}

export interface Unet {
  /** Largest batch one predict() call may take (1 for exports with a static batch). */
  readonly maxBatch: number;
  /** Whether the model computes in half precision (needs shader-f16 on WebGPU). */
  readonly fp16: boolean;
  /**
   * Noise prediction for `latents` [batch, 4, h, w] at diffusion timestep `t` (the scheduler's value; the
   * implementation casts it to what the model declares), conditioned on `embeddings` [batch, 77, dim].
   */
  predict(latents: FloatTensor, t: number, embeddings: FloatTensor): Promise<FloatTensor>;
  release(): Promise<void>;
}

export interface VaeDecoder {
  /** Latents [batch, 4, h, w], already divided by the VAE scaling factor → image [batch, 3, 8h, 8w] in about [-1, 1]. */
  decode(latents: FloatTensor): Promise<FloatTensor>;
  release(): Promise<void>;
}

/** The loaded components of one model. */
export interface DiffusionComponents {
  textEncoder: TextEncoder;
  unet: Unet;
  vaeDecoder: VaeDecoder;
}

/** Where the components' networks run: the execution provider's name, as in DiffusionInfo.backend. */
export type ComponentBackend = 'webgpu' | 'wasm';

/** One component's ONNX graph as read from the export's folder. */
export interface ComponentFile {
  /** The .onnx bytes. */
  model: Uint8Array;
  info: OnnxModelInfo;
  /** External weight files, by the name the model refers to them. */
  externalData: { path: string; data: Uint8Array }[];
  /** For messages, e.g. 'unet/model.onnx'. */
  name: string;
}

/** Turns component files into runnable components: made by the backend layer, used by ./load.ts. */
export interface ComponentExecutor {
  readonly backend: ComponentBackend;
  /** What runs the networks, for progress messages (e.g. 'onnxruntime-web'). */
  readonly runtimeName: string;
  /** Why this backend (DiffusionInfo.backendReason). */
  readonly reason: string;
  /** Loads what the executor needs (its runtime) before any weights are read; failures surface here. */
  prepare(): Promise<void>;
  /** Refuses a file this executor cannot run (e.g. fp16 without shader-f16) before its weights are read. */
  check(file: ComponentFile): void;
  textEncoder(file: ComponentFile): Promise<TextEncoder>;
  unet(file: ComponentFile): Promise<Unet>;
  vaeDecoder(file: ComponentFile): Promise<VaeDecoder>;
}
