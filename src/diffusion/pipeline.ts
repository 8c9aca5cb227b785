/**
 * Text-to-image, as diffusers' StableDiffusionPipeline does it, over the component interfaces of
 * ./components.ts:
 *
 *     ids      = tokenize(negative prompt), tokenize(prompt)                (77 ids each)
 *     emb      = text_encoder(ids)                                           [2, 77, dim] (one call, or two)
 *     x        = (latents ?? seeded N(0, 1) noise) · scheduler.initNoiseSigma  [1, 4, h/8, w/8]
 *     for each scheduler step i:
 *       ε_u, ε_c = unet(scaleModelInput(x, i) twice, t_i, emb)              (batch 2, or two calls)
 *       ε      = ε_u + guidance · (ε_c − ε_u)                                (no guidance pass when guidance ≤ 1)
 *       x      = scheduler.step(ε, i, x)
 *     image    = vae_decoder(x / scaling_factor) / 2 + 0.5, clamped, ×255
 *
 * Every model output is checked: NaN or Inf stops generation with NonFiniteOutputError naming the component
 * and step (a black image is never returned as a success).
 */
import { AbortError, InvalidArgumentError, NonFiniteOutputError } from '../errors';
import { SeededGaussian } from './random';
import { createScheduler, type RawSchedulerConfig, type Scheduler } from './schedulers';
import type { DiffusionComponents, FloatTensor } from './components';
import { makeImage, tensorToRgba, type GeneratedImage } from './image';
import { nextTask } from '../next_task';

/** Turns a prompt into exactly `length` token ids (CLIP: start, text, end, padding). */
export interface PromptTokenizer {
  readonly length: number;
  encode(text: string): ArrayLike<number>;
}

export interface StepEvent {
  /** 0-based step index. */
  step: number;
  steps: number;
  /** The scheduler's timestep at this step. */
  timestep: number;
  /** The latents after this step [1, 4, h/8, w/8] (a copy). */
  latents: Float32Array;
  /**
   * A rough RGBA preview at latent resolution (w/8 × h/8) from a fixed linear map of the 4 latent channels
   * (cheap; no VAE run). Present when generate() was called with `previews: true`.
   */
  preview?: { width: number; height: number; data: Uint8ClampedArray };
}

export interface GenerateOptions {
  prompt: string;
  /** What to steer away from (classifier-free guidance's unconditional prompt). Default "". */
  negativePrompt?: string;
  /** Denoising steps (default 20; SD-Turbo: 1–4). */
  steps?: number;
  /** Classifier-free guidance scale (default 7.5). ≤ 1 turns guidance off: one UNet pass per step (SD-Turbo: 0). */
  guidance?: number;
  /** Same seed (and options) → the same image. Default: a random seed, reported as `image.seed`. */
  seed?: number;
  /** Scheduler: 'euler' (default), 'euler_ancestral', 'ddim', 'dpmpp_2m', 'lcm' or a diffusers class name. */
  scheduler?: string;
  /** Image size in pixels, multiples of 64 (default: the model's, 512 for SD 1.x). */
  width?: number;
  height?: number;
  /**
   * Initial noise [1, 4, height/8, width/8] used instead of the seeded noise, like diffusers' `latents`
   * argument (it is scaled by the scheduler's initial sigma, as diffusers does).
   */
  latents?: Float32Array;
  /** Called after each step. */
  onStep?: (e: StepEvent) => void;
  /** Compute StepEvent.preview. */
  previews?: boolean;
  /** 'auto' (default): the two guidance passes as one batch-2 UNet call when the model allows, two calls otherwise or if that fails; or force one. */
  guidanceBatch?: 'auto' | 'batched' | 'separate';
  signal?: AbortSignal;
}

export interface DiffusionImage extends GeneratedImage {
  readonly seed: number;
  /** Seconds spent: text encoding, the UNet loop (with scheduler), VAE decoding, and in all. */
  readonly timings: { textEncoder: number; unet: number; vae: number; total: number; perStep: number };
}

export interface PipelineConfig {
  /** vae config scaling_factor (0.18215 for SD 1.x/2.x). */
  scalingFactor: number;
  /** Default image size (UNet sample_size × 8). */
  defaultSize: number;
  schedulerConfig: RawSchedulerConfig;
}

export const LATENT_CHANNELS = 4;
const DEFAULT_STEPS = 20;
const DEFAULT_GUIDANCE = 7.5;

export class DiffusionPipeline {
  /** Whether batch-2 guidance passes worked so far (false after a failure; then two calls are used). */
  private batchedOk = true;

  constructor(
    readonly components: DiffusionComponents,
    readonly tokenizer: PromptTokenizer,
    readonly config: PipelineConfig,
  ) {}

  async generate(o: GenerateOptions): Promise<DiffusionImage> {
    const t0 = now();
    if (typeof o?.prompt !== 'string') throw new InvalidArgumentError('generate: prompt must be a string');
    const width = o.width ?? this.config.defaultSize;
    const height = o.height ?? this.config.defaultSize;
    for (const [k, v] of [['width', width], ['height', height]] as const) {
      if (!Number.isInteger(v) || v <= 0 || v % 64 !== 0) throw new InvalidArgumentError(`generate: ${k} must be a positive multiple of 64, got ${v}`);
    }
    const steps = o.steps ?? DEFAULT_STEPS;
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new InvalidArgumentError(`generate: steps must be an integer from 1 to 1000, got ${steps}`);
    const guidance = o.guidance ?? DEFAULT_GUIDANCE;
    if (!Number.isFinite(guidance) || guidance < 0) throw new InvalidArgumentError(`generate: guidance must be a finite number ≥ 0, got ${guidance}`);
    const seed = o.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (!Number.isSafeInteger(seed)) throw new InvalidArgumentError(`generate: seed must be a safe integer, got ${seed}`);
    const lh = height / 8;
    const lw = width / 8;
    const n = LATENT_CHANNELS * lh * lw;
    if (o.latents !== undefined && (!(o.latents instanceof Float32Array) || o.latents.length !== n)) {
      throw new InvalidArgumentError(`generate: latents must be a Float32Array of [1, 4, ${lh}, ${lw}] = ${n} values for ${width}×${height}, got ${o.latents?.length}`);
    }
    let scheduler: Scheduler;
    try {
      scheduler = createScheduler(o.scheduler ?? 'euler', this.config.schedulerConfig);
    } catch (e) {
      throw new InvalidArgumentError(`generate: ${(e as Error).message}`);
    }
    const cfg = guidance > 1;
    const signal = o.signal;
    const checkAbort = () => {
      if (signal?.aborted) throw new AbortError();
    };
    checkAbort();

    // Text embeddings: [uncond, cond] for guidance, [cond] without.
    const { textEncoder, unet, vaeDecoder } = this.components;
    const prompts = cfg ? [o.negativePrompt ?? '', o.prompt] : [o.prompt];
    const L = this.tokenizer.length;
    const ids = new Int32Array(prompts.length * L);
    prompts.forEach((p, k) => {
      const t = this.tokenizer.encode(p);
      if (t.length !== L) throw new InvalidArgumentError(`tokenizer returned ${t.length} ids, expected ${L}`);
      ids.set(Array.from(t), k * L);
    });
    let emb: FloatTensor;
    if (prompts.length <= textEncoder.maxBatch) emb = await textEncoder.encode(ids, prompts.length);
    else emb = concat(await Promise.all(prompts.map((_, k) => textEncoder.encode(ids.subarray(k * L, (k + 1) * L), 1))));
    guard(emb.data, 'text_encoder', -1);
    const embOne = cfg ? [slice(emb, 0), slice(emb, 1)] : [emb];
    const t1 = now();

    // Initial latents.
    const rng = new SeededGaussian(seed);
    scheduler.setTimesteps(steps);
    const sigma0 = scheduler.initNoiseSigma;
    let x = o.latents ? new Float32Array(o.latents) : rng.fill(new Float32Array(n));
    for (let j = 0; j < n; j++) x[j] = x[j]! * sigma0;
    const dims = [1, LATENT_CHANNELS, lh, lw];
    const timesteps = scheduler.timesteps;

    const mode = o.guidanceBatch ?? 'auto';
    for (let i = 0; i < timesteps.length; i++) {
      // onnxruntime-web's run can resolve without ever returning to the event loop, so an abort sent as a
      // message (the page's Stop, reaching the worker) would wait for the whole loop: let queued tasks run.
      if (signal && i > 0) await nextTask();
      checkAbort();
      const t = timesteps[i]!;
      const xin = scheduler.scaleModelInput(x, i);
      let eps: Float32Array;
      if (!cfg) {
        eps = (await unet.predict({ data: xin, dims }, t, embOne[0]!)).data;
      } else {
        let pair: [Float32Array, Float32Array] | undefined;
        const tryBatched = mode === 'batched' || (mode === 'auto' && this.batchedOk && unet.maxBatch >= 2);
        if (tryBatched) {
          try {
            const both = new Float32Array(2 * n);
            both.set(xin, 0);
            both.set(xin, n);
            const out = await unet.predict({ data: both, dims: [2, LATENT_CHANNELS, lh, lw] }, t, emb);
            pair = [out.data.subarray(0, n), out.data.subarray(n, 2 * n)];
          } catch (e) {
            if (mode === 'batched') throw e;
            this.batchedOk = false; // e.g. out of memory at batch 2: two calls from now on
          }
        }
        if (!pair) {
          const u = await unet.predict({ data: xin, dims }, t, embOne[0]!);
          const c = await unet.predict({ data: xin, dims }, t, embOne[1]!);
          pair = [u.data, c.data];
        }
        const [u, c] = pair;
        eps = new Float32Array(n);
        for (let j = 0; j < n; j++) eps[j] = u[j]! + guidance * (c[j]! - u[j]!);
      }
      guard(eps, 'unet', i);
      x = scheduler.step(eps, i, x, rng);
      guard(x, 'scheduler', i);
      if (o.onStep) {
        const e: StepEvent = { step: i, steps: timesteps.length, timestep: t, latents: new Float32Array(x) };
        if (o.previews) e.preview = latentPreview(x, lw, lh);
        o.onStep(e);
      }
    }
    (unet as { endImage?: () => void }).endImage?.();
    checkAbort();
    const t2 = now();

    const scaled = new Float32Array(n);
    const k = 1 / this.config.scalingFactor;
    for (let j = 0; j < n; j++) scaled[j] = x[j]! * k;
    const decoded = await vaeDecoder.decode({ data: scaled, dims });
    guard(decoded.data, 'vae_decoder', -1);
    const rgba = tensorToRgba(decoded);
    const t3 = now();
    const image = makeImage(rgba.width, rgba.height, rgba.data);
    const timings = { textEncoder: t1 - t0, unet: t2 - t1, vae: t3 - t2, total: t3 - t0, perStep: (t2 - t1) / timesteps.length };
    return Object.assign(image, { seed, timings });
  }

  async unload(): Promise<void> {
    const { textEncoder, unet, vaeDecoder } = this.components;
    await Promise.all([textEncoder.release(), unet.release(), vaeDecoder.release()]);
  }
}

function now(): number {
  return performance.now() / 1000;
}

function guard(data: Float32Array, component: string, step: number): void {
  let bad = 0;
  for (let i = 0; i < data.length; i++) if (!Number.isFinite(data[i]!)) bad++;
  if (bad > 0) throw new NonFiniteOutputError(component, step, bad, `(of ${data.length})`);
}

function slice(t: FloatTensor, b: number): FloatTensor {
  const per = t.data.length / t.dims[0]!;
  return { data: t.data.slice(b * per, (b + 1) * per), dims: [1, ...t.dims.slice(1)] };
}

function concat(parts: FloatTensor[]): FloatTensor {
  const per = parts[0]!.data.length;
  const data = new Float32Array(per * parts.length);
  parts.forEach((p, k) => data.set(p.data, k * per));
  return { data, dims: [parts.length, ...parts[0]!.dims.slice(1)] };
}

/**
 * Latents → approximate RGB without the VAE: a fixed linear map of the four SD latent channels (the
 * widely used "latent preview" factors for SD 1.x/2.x VAEs), scaled to bytes.
 */
const PREVIEW_FACTORS = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

export function latentPreview(x: Float32Array, width: number, height: number): { width: number; height: number; data: Uint8ClampedArray } {
  const plane = width * height;
  const data = new Uint8ClampedArray(plane * 4);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let v = 0;
      for (let l = 0; l < 4; l++) v += x[l * plane + p]! * PREVIEW_FACTORS[l]![c]!;
      data[p * 4 + c] = Math.round((v + 1) * 127.5);
    }
    data[p * 4 + 3] = 255;
  }
  return { width, height, data };
}
