/**
 * An independent Stable Diffusion text-to-image run for the tests, with onnxruntime-node (CPU) as the
 * executor: written from diffusers' StableDiffusionPipeline.__call__ without using any of src/diffusion's
 * pipeline code. It reuses the scheduler, the seeded Gaussian source and the CLIP tokenizer (each tested
 * on its own against diffusers' formulas / HF tokenizers), but does its own guidance, latent scaling,
 * VAE scaling and post-processing, always as separate batch-1 UNet passes, in float64 where it computes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ClipTokenizer } from '../../src/diffusion/clip_tokenizer';
import { randn } from '../../src/diffusion/random';
import { createScheduler } from '../../src/diffusion/schedulers';

export interface ReferenceRequest {
  prompt: string;
  negativePrompt?: string;
  steps: number;
  guidance: number;
  seed: number;
  width: number;
  height: number;
  latents?: Float32Array;
}

export interface ReferenceModel {
  run(r: ReferenceRequest): Promise<{ rgba: Uint8ClampedArray; finalLatents: Float32Array }>;
}

export async function referenceModel(dir: string): Promise<ReferenceModel> {
  const readText = (p: string) => readFileSync(join(dir, p), 'utf8');
  const tryText = (p: string) => {
    try {
      return readText(p);
    } catch {
      return null;
    }
  };
  const tok = ClipTokenizer.fromFiles({
    vocab: readText('tokenizer/vocab.json'),
    merges: readText('tokenizer/merges.txt'),
    specialTokensMap: tryText('tokenizer/special_tokens_map.json'),
    tokenizerConfig: tryText('tokenizer/tokenizer_config.json'),
  });
  const schedulerConfig = JSON.parse(readText('scheduler/scheduler_config.json'));
  const vaeConfig = JSON.parse(tryText('vae_decoder/config.json') ?? '{}');
  const scaling: number = vaeConfig.scaling_factor ?? 0.18215;
  // onnxruntime-node reads the UNet's external data from the file beside its model.onnx.
  const te = await ort.InferenceSession.create(join(dir, 'text_encoder/model.onnx'));
  const unet = await ort.InferenceSession.create(join(dir, 'unet/model.onnx'));
  const vae = await ort.InferenceSession.create(join(dir, 'vae_decoder/model.onnx'));
  const tsMeta = unet.inputMetadata.find((m) => m.name === 'timestep') as unknown as { type: string; shape: unknown[] };

  const embed = async (text: string) => {
    const ids = Int32Array.from(tok.encode(text).ids);
    const out = await te.run({ input_ids: new ort.Tensor('int32', ids, [1, ids.length]) });
    return out.last_hidden_state!;
  };
  const timestep = (t: number) => {
    const dims = tsMeta.shape.length === 0 ? [] : [1];
    return tsMeta.type === 'int64' ? new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.round(t))), dims) : new ort.Tensor('float32', Float32Array.of(t), dims);
  };

  return {
    async run(r) {
      const lh = r.height / 8, lw = r.width / 8;
      const n = 4 * lh * lw;
      const dims = [1, 4, lh, lw];
      const cfg = r.guidance > 1;
      const cond = await embed(r.prompt);
      const uncond = cfg ? await embed(r.negativePrompt ?? '') : undefined;
      const s = createScheduler('euler', schedulerConfig);
      s.setTimesteps(r.steps);
      const noise = r.latents ?? randn(n, r.seed);
      let x: Float32Array = Float32Array.from(noise, (v) => v * s.initNoiseSigma);
      for (let i = 0; i < s.timesteps.length; i++) {
        const xin = s.scaleModelInput(x, i);
        const pass = async (emb: ort.Tensor) =>
          (await unet.run({ sample: new ort.Tensor('float32', xin, dims), timestep: timestep(s.timesteps[i]!), encoder_hidden_states: emb })).out_sample!.data as Float32Array;
        const c = await pass(cond);
        let eps: Float32Array;
        if (uncond) {
          const u = await pass(uncond);
          eps = Float32Array.from(c, (cv, j) => u[j]! + r.guidance * (cv - u[j]!));
        } else eps = c;
        x = s.step(eps, i, x);
      }
      const z = Float32Array.from(x, (v) => v / scaling);
      const img = (await vae.run({ latent_sample: new ort.Tensor('float32', z, dims) })).sample!;
      const [, , H, W] = img.dims as number[];
      const d = img.data as Float32Array;
      const rgba = new Uint8ClampedArray(H! * W! * 4);
      for (let y = 0; y < H!; y++) {
        for (let xx = 0; xx < W!; xx++) {
          const p = y * W! + xx;
          for (let ch = 0; ch < 3; ch++) rgba[p * 4 + ch] = Math.round(Math.min(1, Math.max(0, (d[ch * H! * W! + p]! + 1) / 2)) * 255);
          rgba[p * 4 + 3] = 255;
        }
      }
      return { rgba, finalLatents: x };
    },
  };
}

/** Largest and mean absolute difference of two byte images. */
export function imageDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number } {
  if (a.length !== b.length) throw new Error(`image sizes differ: ${a.length} vs ${b.length}`);
  let max = 0, sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

/** Standard deviation of the RGB bytes (an image of one flat colour has 0). */
export function spread(rgba: ArrayLike<number>): number {
  let s = 0, s2 = 0, k = 0;
  for (let i = 0; i < rgba.length; i++) {
    if (i % 4 === 3) continue;
    s += rgba[i]!;
    s2 += rgba[i]! * rgba[i]!;
    k++;
  }
  return Math.sqrt(s2 / k - (s / k) ** 2);
}
