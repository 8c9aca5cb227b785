// Stable Diffusion in Chromium: loadDiffusion from the ES module build (dist/inpage.js) by URL, on the tiny
// random-weight export (test/reference/sd_models.ts) written under e2e/generated/ and served by the test
// server, on onnxruntime-web's WebGPU EP (SwiftShader here) and on WASM, in the inpage worker and in the page
// thread. Each image is compared with the Node result of the independent reference pipeline
// (test/diffusion/reference_pipeline.ts, onnxruntime-node on the CPU) for the same seed.
import { mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from '@playwright/test';
import { writeTinySd } from '../test/reference/sd_models';
import { imageDiff, referenceModel, spread } from '../test/diffusion/reference_pipeline';

const dir = fileURLToPath(new URL('./generated/tiny-sd/', import.meta.url));
const REQ = { prompt: 'a red cat', negativePrompt: 'dog', steps: 4, guidance: 7.5, seed: 42, width: 64, height: 64 };
/**
 * Tolerance in 8-bit levels. WASM in Chromium runs the same kernels as in Node; the WebGPU EP computes
 * convolutions, matmuls and softmax in other summation orders, which may move pixels by a level or two after
 * 4 guided steps on other GPUs. Measured here (SwiftShader): 0 levels on both backends.
 */
const TOL = { wasm: { max: 2, mean: 0.05 }, webgpu: { max: 4, mean: 0.5 } };

let expected: Uint8ClampedArray;
test.beforeAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeTinySd(dir);
  expected = (await (await referenceModel(dir)).run(REQ)).rgba;
  expect(spread(expected)).toBeGreaterThan(10);
});

for (const backend of ['webgpu', 'wasm'] as const) {
  for (const worker of [true, false]) {
    test(`${backend}, ${worker ? 'in the worker' : 'in the page'}: same seed → the Node reference's image`, async ({ page }) => {
      await page.goto('/e2e/pages/esm.html');
      const r = await page.evaluate(async ({ backend, worker, req }) => {
        const inpage = await import('/dist/inpage.js' as string);
        const phases: string[] = [];
        const sd = await inpage.loadDiffusion({ url: '/e2e/generated/tiny-sd/', backend, worker, onProgress: (e: { phase: string }) => phases.push(e.phase) });
        const steps: number[] = [];
        const image = await sd.generate({ ...req, scheduler: 'euler', onStep: (e: { step: number }) => steps.push(e.step) });
        const again = await sd.generate(req);
        const blob: Blob = await image.toBlob();
        const png = Array.from(new Uint8Array(await blob.arrayBuffer()).subarray(0, 8));
        // The PNG decodes to the same pixels (the browser's own decoder).
        const bitmap = await createImageBitmap(blob);
        const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
        const ctx = canvas.getContext('2d')!;
        ctx.drawImage(bitmap, 0, 0);
        const decoded = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
        let pngDiff = 0;
        for (let i = 0; i < decoded.length; i++) pngDiff = Math.max(pngDiff, Math.abs(decoded[i]! - image.data[i]!));
        const badSize = await sd.generate({ ...req, width: 96 }).then(() => null, (e: { code?: string; name?: string }) => `${e.name}:${e.code}`);
        const info = sd.info;
        await sd.unload();
        return { data: Array.from(image.data as Uint8ClampedArray), same: (again.data as Uint8ClampedArray).every((v: number, i: number) => v === image.data[i]), width: image.width, height: image.height, info, phases, steps, png, pngDiff, badSize };
      }, { backend, worker, req: REQ });
      expect(r.info.backend).toBe(backend);
      expect(r.info.runtime).toBe(worker ? 'worker' : 'in-thread');
      expect([r.width, r.height]).toEqual([64, 64]);
      expect(r.steps).toEqual([0, 1, 2, 3]);
      expect(r.phases).toContain('session');
      expect(r.phases.at(-1)).toBe('ready');
      expect(r.same).toBe(true);
      expect(r.png).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      expect(r.pngDiff).toBe(0);
      expect(r.badSize).toBe('InvalidArgumentError:InvalidArgument');
      const d = imageDiff(r.data, expected);
      console.log(`${backend} ${worker ? 'worker' : 'page'}: max ${d.max} levels, mean ${d.mean.toFixed(4)}`);
      expect(d.max).toBeLessThanOrEqual(TOL[backend].max);
      expect(d.mean).toBeLessThanOrEqual(TOL[backend].mean);
    });
  }
}

test('a NaN-producing UNet fails in the browser with NonFiniteOutputError (through the worker)', async ({ page }) => {
  const nanDir = fileURLToPath(new URL('./generated/tiny-sd-nan/', import.meta.url));
  rmSync(nanDir, { recursive: true, force: true });
  writeTinySd(nanDir, { nanBelowTimestep: 500 });
  await page.goto('/e2e/pages/esm.html');
  const e = await page.evaluate(async (req) => {
    const inpage = await import('/dist/inpage.js' as string);
    const sd = await inpage.loadDiffusion({ url: '/e2e/generated/tiny-sd-nan/', backend: 'wasm', worker: true });
    try {
      await sd.generate(req);
      return null;
    } catch (e) {
      const x = e as { name: string; code: string; step: number; component: string; message: string };
      return { name: x.name, code: x.code, step: x.step, component: x.component, isClass: e instanceof inpage.NonFiniteOutputError };
    } finally {
      await sd.unload();
    }
  }, REQ);
  expect(e).toEqual({ name: 'NonFiniteOutputError', code: 'NonFiniteOutput', step: 2, component: 'unet', isClass: true });
});
