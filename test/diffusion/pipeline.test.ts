/**
 * The Stable Diffusion pipeline end to end in Node on onnxruntime-web's WASM backend, over tiny random-weight
 * components with the real I/O names (test/reference/sd_models.ts), against an independent reference run
 * with onnxruntime-node (test/diffusion/reference_pipeline.ts): same seed → the same image within a stated
 * tolerance. Plus: the NaN guard, size and latents validation, seeds, fp16 refusal, URL loading, the PNG.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadDiffusion, type DiffusionModel } from '../../src/runtime/diffusion_load';
import { randn } from '../../src/diffusion/random';
import { NonFiniteOutputError, InvalidArgumentError, UnsupportedFeatureError } from '../../src/errors';
import { folderMap, writeTinySd, type TinySdOptions } from '../reference/sd_models';
import { imageDiff, referenceModel, spread } from './reference_pipeline';

/**
 * Tolerance, in 8-bit levels: both executors compute in float32 but with different kernels (MLAS in
 * onnxruntime-node, the WASM build's own), and the pipeline batches the two guidance passes where the
 * reference does not, so sums round differently; over 4 steps this moves a few pixels by one level.
 */
const MAX_LEVELS = 2;
const MEAN_LEVELS = 0.05;

function tiny(o: TinySdOptions = {}): string {
  return writeTinySd(mkdtempSync(join(tmpdir(), 'tiny-sd-')), o);
}

async function load(dir: string): Promise<DiffusionModel> {
  return loadDiffusion({ files: folderMap(dir), backend: 'wasm', worker: false });
}

const REQ = { prompt: 'a red cat', negativePrompt: 'dog', steps: 4, guidance: 7.5, seed: 42, width: 64, height: 64 };

describe('Stable Diffusion pipeline (onnxruntime-web WASM) vs reference (onnxruntime-node)', () => {
  let dir: string;
  let sd: DiffusionModel;
  beforeAll(async () => {
    dir = tiny();
    sd = await load(dir);
  });
  afterAll(async () => {
    await sd?.unload();
  });

  test('info describes the loaded model', () => {
    expect(sd.info).toMatchObject({ backend: 'wasm', fp16: false, hiddenSize: 32, scalingFactor: 0.18215, unetMaxBatch: Infinity, runtime: 'in-thread' });
    expect(sd.info.files['unet/model.onnx_data']).toBeGreaterThan(1000);
  });

  test.each([
    ['64×64, guidance 7.5', REQ],
    ['128×64 (non-square), other prompts', { ...REQ, prompt: 'dog', negativePrompt: 'cat', width: 128, height: 64, seed: 7 }],
    ['no guidance (SD-Turbo style, one pass per step)', { ...REQ, guidance: 0, steps: 2 }],
  ])('same seed → same image: %s', async (_, req) => {
    const ref = await referenceModel(dir);
    const expected = (await ref.run(req)).rgba;
    const image = await sd.generate({ ...req, scheduler: 'euler' });
    expect([image.width, image.height]).toEqual([req.width, req.height]);
    expect(image.data.length).toBe(req.width * req.height * 4);
    expect(spread(expected)).toBeGreaterThan(10); // the reference image is not flat: the comparison means something
    const d = imageDiff(image.data, expected);
    expect(d.max).toBeLessThanOrEqual(MAX_LEVELS);
    expect(d.mean).toBeLessThanOrEqual(MEAN_LEVELS);
  });

  test('batched and separate guidance passes give the same image', async () => {
    const a = await sd.generate({ ...REQ, guidanceBatch: 'batched' });
    const b = await sd.generate({ ...REQ, guidanceBatch: 'separate' });
    expect(imageDiff(a.data, b.data).max).toBeLessThanOrEqual(1);
  });

  test('same seed → identical bytes; different seed → a different image; prompt matters', async () => {
    const a = await sd.generate(REQ);
    const b = await sd.generate(REQ);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
    const c = await sd.generate({ ...REQ, seed: 43 });
    expect(imageDiff(a.data, c.data).mean).toBeGreaterThan(5);
    const p = await sd.generate({ ...REQ, prompt: 'dog' });
    expect(imageDiff(a.data, p.data).max).toBeGreaterThan(0);
    expect(a.seed).toBe(42);
  });

  test('latents: given noise is used as the seeded noise would be (and as the reference uses it)', async () => {
    const n = 4 * 8 * 8;
    const fromSeed = await sd.generate(REQ);
    const same = await sd.generate({ ...REQ, seed: 999, latents: randn(n, 42) });
    expect(Buffer.from(same.data).equals(Buffer.from(fromSeed.data))).toBe(true);
    const custom = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7));
    const ref = await (await referenceModel(dir)).run({ ...REQ, latents: custom });
    const image = await sd.generate({ ...REQ, latents: custom });
    expect(imageDiff(image.data, ref.rgba).max).toBeLessThanOrEqual(MAX_LEVELS);
  });

  test('onStep reports every step with latents and a preview', async () => {
    const seen: { step: number; timestep: number; n: number; preview?: number }[] = [];
    await sd.generate({ ...REQ, previews: true, onStep: (e) => seen.push({ step: e.step, timestep: e.timestep, n: e.latents.length, preview: e.preview?.data.length }) });
    expect(seen.map((s) => s.step)).toEqual([0, 1, 2, 3]);
    expect(seen.every((s) => s.n === 256 && s.preview === 8 * 8 * 4)).toBe(true);
    expect(seen[0]!.timestep).toBeGreaterThan(seen[3]!.timestep);
  });

  test('sizes must be multiples of 64; latents must match the size', async () => {
    for (const bad of [{ width: 100 }, { height: 32 }, { width: 0 }, { width: 64.5 }]) {
      const e = await sd.generate({ ...REQ, ...bad }).catch((x) => x);
      expect(e).toBeInstanceOf(InvalidArgumentError);
      expect(e.code).toBe('InvalidArgument');
      expect(e.message).toMatch(/multiple of 64/);
    }
    const e = await sd.generate({ ...REQ, latents: new Float32Array(10) }).catch((x) => x);
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect(e.message).toMatch(/latents/);
  });

  test('toBlob() is a PNG of exactly the pixels (own encoder in Node)', async () => {
    const image = await sd.generate({ ...REQ, width: 128 });
    const png = new Uint8Array(await (await image.toBlob()).arrayBuffer());
    expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const dv = new DataView(png.buffer);
    expect([dv.getUint32(16), dv.getUint32(20)]).toEqual([128, 64]);
    // Decode: collect IDAT, inflate with Node's zlib (independent of the CompressionStream that wrote it), unfilter (filter 0 only).
    const { inflateSync } = await import('node:zlib');
    const idat: Uint8Array[] = [];
    for (let at = 8; at < png.length; ) {
      const len = dv.getUint32(at);
      const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
      if (type === 'IDAT') idat.push(png.subarray(at + 8, at + 8 + len));
      at += 12 + len;
    }
    const raw = inflateSync(Buffer.concat(idat));
    const rgba = new Uint8Array(128 * 64 * 4);
    for (let y = 0; y < 64; y++) {
      expect(raw[y * (128 * 4 + 1)]).toBe(0);
      rgba.set(raw.subarray(y * 513 + 1, y * 513 + 513), y * 512);
    }
    expect(Buffer.from(rgba).equals(Buffer.from(image.data))).toBe(true);
  });
});

describe('Stable Diffusion pipeline: model variants and failures', () => {
  test.each([
    ['float32 timestep [batch], static batch 1 UNet (two calls per step), weights.pb, scaling 0.13025', { timestepType: 'float32', timestepShape: ['batch'], staticBatch1: true, unetExternalData: 'weights.pb', scalingFactor: 0.13025 }],
    ['scalar int64 timestep', { timestepShape: [] }],
  ] as [string, TinySdOptions][])('%s matches the reference', async (_, o) => {
    const dir = tiny(o);
    const sd = await load(dir);
    try {
      if (o.staticBatch1) expect(sd.info.unetMaxBatch).toBe(1);
      if (o.scalingFactor) expect(sd.info.scalingFactor).toBe(o.scalingFactor);
      const ref = await (await referenceModel(dir)).run(REQ);
      const image = await sd.generate(REQ);
      const d = imageDiff(image.data, ref.rgba);
      expect(d.max).toBeLessThanOrEqual(MAX_LEVELS);
      expect(d.mean).toBeLessThanOrEqual(MEAN_LEVELS);
    } finally {
      await sd.unload();
    }
  });

  test('an abort from another task (a timer, a message: the demo\'s Stop) ends a long run within a few steps', async () => {
    const sd = await load(tiny());
    try {
      const ctl = new AbortController();
      const steps: number[] = [];
      const run = sd.generate({ ...REQ, steps: 1000, signal: ctl.signal, onStep: (e) => steps.push(e.step) });
      // Abort from a task of its own once step 3 is reported, as a Stop message reaching the worker does.
      const stop = setInterval(() => {
        if (steps.length >= 3) ctl.abort();
      }, 1);
      const err = await run.then(() => null, (e: Error & { code?: string }) => e);
      clearInterval(stop);
      expect(err?.name).toBe('AbortError');
      expect(steps.length).toBeGreaterThanOrEqual(3);
      expect(steps.length).toBeLessThan(50);
    } finally {
      await sd.unload();
    }
  });

  test('a UNet that outputs NaN stops generation with NonFiniteOutputError naming the step and component', async () => {
    const sd = await load(tiny({ nanBelowTimestep: 500 }));
    try {
      const steps: number[] = [];
      const e = await sd.generate({ ...REQ, steps: 4, onStep: (s) => steps.push(s.timestep) }).catch((x) => x);
      expect(e).toBeInstanceOf(NonFiniteOutputError);
      expect(e.code).toBe('NonFiniteOutput');
      expect(e.component).toBe('unet');
      // Leading spacing, 4 steps: timesteps 751, 501, 251, 1 → the first below 500 is step 2.
      expect(steps).toEqual([751, 501]);
      expect(e.step).toBe(2);
      expect(e.message).toMatch(/unet produced \d+ non-finite .* at step 2/);
    } finally {
      await sd.unload();
    }
  });

  test('an fp16 UNet is refused on WASM with a typed error, before its weights are read', async () => {
    const e = await load(tiny({ fp16Unet: true })).catch((x) => x);
    expect(e).toBeInstanceOf(UnsupportedFeatureError);
    expect(e.code).toBe('UnsupportedFeature');
    expect(e.feature).toBe('shader-f16');
    expect(e.message).toMatch(/unet\/model.onnx is a half-precision/);
  });

  test('missing component and bad arguments are typed errors', async () => {
    const files = folderMap(tiny());
    delete files['vae_decoder/model.onnx'];
    const e = await loadDiffusion({ files, backend: 'wasm', worker: false }).catch((x) => x);
    expect(e.code).toBe('InvalidModelFile');
    expect(e.message).toMatch(/vae_decoder\/model.onnx is missing/);
    const e2 = await loadDiffusion({ backend: 'wasm', worker: false } as never).catch((x) => x);
    expect(e2.code).toBe('InvalidArgument');
  });

  describe('from a URL (uncached in Node), with progress', () => {
    let server: Server;
    let base: string;
    let dir: string;
    beforeAll(async () => {
      dir = tiny();
      server = createServer((req, res) => {
        try {
          const body = readFileSync(join(dir, decodeURIComponent(new URL(req.url!, 'http://x').pathname)));
          res.writeHead(200, { 'content-length': body.length }).end(body);
        } catch {
          res.writeHead(404).end();
        }
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    test('loads and generates the same image as from files', async () => {
      const events: string[] = [];
      const sd = await loadDiffusion({ url: base, backend: 'wasm', worker: false, cache: false, onProgress: (e) => events.push(`${e.phase}:${e.file ?? e.component ?? ''}`) });
      try {
        expect(events).toContain('download:unet/model.onnx_data');
        expect(events.filter((e) => e.startsWith('session:'))).toHaveLength(3);
        expect(events.at(-1)).toBe('ready:');
        const ref = await (await referenceModel(dir)).run(REQ);
        expect(imageDiff((await sd.generate(REQ)).data, ref.rgba).max).toBeLessThanOrEqual(MAX_LEVELS);
      } finally {
        await sd.unload();
      }
    });
  });
});
