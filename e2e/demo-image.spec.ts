// The demo's image page as a person uses it (built with `npm run build:demo`, served from demo/dist): switch
// to the page, generate with the built-in tiny random-weight Stable Diffusion export (public/models/tiny-sd/)
// at 64×64 with 4 steps, and check what the page shows: the load and step progress bars, the image on the
// canvas (its size, not one flat colour, equal to the independent Node reference's image for the same
// settings), the times per step and per image, the PNG download; the same seed gives the same pixels and
// another seed other pixels; Stop ends a long run; a local folder selection gives the URL load's image.
// Screenshots and the downloaded PNG are saved as test artifacts (test-results/).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { imageDiff, referenceModel, spread } from '../test/diffusion/reference_pipeline';

const PAGE = '/demo/dist/index.html';
const MODEL_DIR = fileURLToPath(new URL('../public/models/tiny-sd/', import.meta.url));
const REQ = { prompt: 'a red cat', negativePrompt: 'dog', steps: 4, guidance: 7.5, seed: 42, width: 64, height: 64 };

interface Shown {
  width: number;
  height: number;
  shows: string | undefined;
  data: number[];
}

async function openImagePage(page: Page): Promise<void> {
  await page.goto(PAGE);
  await expect(page.locator('#text-page')).toBeVisible();
  await expect(page.locator('#image-page')).toBeHidden();
  await page.click('#page-image');
  await expect(page.locator('#image-page')).toBeVisible();
  await expect(page.locator('#text-page')).toBeHidden();
  await expect(page.locator('body')).toHaveAttribute('data-page', 'image');
  // The page says plainly that the built-in model has random weights.
  await expect(page.locator('#sd-builtin-note')).toContainText('random, untrained weights');
}

/** Records every text the step line shows (the bar's label), to see each step reported. */
async function watchSteps(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { stepTexts: string[] };
    w.stepTexts = [];
    const line = document.getElementById('sd-step-text')!;
    new MutationObserver(() => w.stepTexts.push(line.textContent ?? '')).observe(line, { childList: true, characterData: true, subtree: true });
  });
}

/** Fills the form, generates, waits for the end; returns the canvas pixels. */
async function generate(page: Page, o: { seed: number; steps?: number }): Promise<Shown> {
  await page.fill('#sd-prompt', REQ.prompt);
  await page.fill('#sd-negative', REQ.negativePrompt);
  await page.fill('#sd-steps', String(o.steps ?? REQ.steps));
  await page.fill('#sd-guidance', String(REQ.guidance));
  await page.fill('#sd-seed', String(o.seed));
  await page.selectOption('#sd-scheduler', 'euler');
  await page.selectOption('#sd-width', String(REQ.width));
  await page.selectOption('#sd-height', String(REQ.height));
  await page.evaluate(() => ((window as unknown as { stepTexts: string[] }).stepTexts = []));
  await page.click('#sd-generate');
  await expect(page.locator('#sd-stats')).toHaveAttribute('data-done', /./, { timeout: 120_000 });
  await expect(page.locator('#sd-stats')).toHaveAttribute('data-done', 'done');
  return canvasPixels(page);
}

function canvasPixels(page: Page): Promise<Shown> {
  return page.evaluate(() => {
    const c = document.getElementById('sd-canvas') as HTMLCanvasElement;
    const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    return { width: c.width, height: c.height, shows: c.dataset.shows, data: Array.from(data) };
  });
}

test('demo image page: the built-in tiny model at 64×64, 4 steps: progress, image, times, PNG, same seed → same pixels', async ({ page }, info) => {
  const expected = (await (await referenceModel(MODEL_DIR)).run(REQ)).rgba;
  await openImagePage(page);
  await watchSteps(page);

  const first = await generate(page, { seed: 42 });
  // Loading: the model was loaded by Generate, with progress ending in Ready; where and why it runs.
  await expect(page.locator('body')).toHaveAttribute('data-sd-model', 'ready');
  await expect(page.locator('#sd-load-progress')).toHaveJSProperty('value', 1);
  await expect(page.locator('#sd-load-text')).toContainText('Ready');
  await expect(page.locator('#sd-info')).toContainText('in a Web Worker');
  await expect(page.locator('#sd-info')).toContainText('unet/model.onnx_data');

  // The step bar reached n of n, having shown every step on the way.
  await expect(page.locator('#sd-step-progress')).toHaveJSProperty('max', 4);
  await expect(page.locator('#sd-step-progress')).toHaveJSProperty('value', 4);
  await expect(page.locator('#sd-step-text')).toContainText('step 4 of 4');
  const texts = await page.evaluate(() => (window as unknown as { stepTexts: string[] }).stepTexts);
  for (let i = 1; i <= 4; i++) expect(texts.some((t) => t.startsWith(`step ${i} of 4`)), `"step ${i} of 4" in ${JSON.stringify(texts)}`).toBe(true);

  // The image: 64×64, the final image (not the preview), not one flat colour, and the reference's pixels.
  expect(first.shows).toBe('image');
  expect([first.width, first.height]).toEqual([64, 64]);
  expect(first.data.length).toBe(64 * 64 * 4);
  expect(new Set(first.data.filter((_, i) => i % 4 !== 3)).size).toBeGreaterThan(50);
  expect(spread(first.data)).toBeGreaterThan(10);
  const d = imageDiff(first.data, expected);
  console.log(`demo vs Node reference: max ${d.max} levels, mean ${d.mean.toFixed(4)}`);
  expect(d.max).toBeLessThanOrEqual(2);
  expect(d.mean).toBeLessThanOrEqual(0.05);

  // Times per step and per image, in the text and as numbers.
  const stats = (await page.locator('#sd-stats').textContent()) ?? '';
  expect(stats).toMatch(/\d+(\.\d+)? ms per step · \d+\.\d\d s per image \(text encoder .* ms, UNet 4 steps .* s, VAE .* ms\)/);
  expect(stats).toContain('seed 42');
  const perStep = Number(await page.locator('#sd-stats').getAttribute('data-per-step-ms'));
  const perImage = Number(await page.locator('#sd-stats').getAttribute('data-image-ms'));
  expect(perStep).toBeGreaterThan(0);
  expect(perImage).toBeGreaterThan(4 * perStep);
  await expect(page.locator('#sd-step-times li')).toHaveCount(4);
  for (const t of await page.locator('#sd-step-times li').allTextContents()) expect(t).toMatch(/^\d+ ms$/);

  // Download PNG: a 64×64 PNG file, saved as an artifact.
  await expect(page.locator('#sd-download')).toBeVisible();
  await expect(page.locator('#sd-download')).toHaveAttribute('download', 'inpage-42.png');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#sd-download')]);
  const pngPath = info.outputPath('tiny-sd-seed42.png');
  await download.saveAs(pngPath);
  const png = readFileSync(pngPath);
  expect(Array.from(png.subarray(0, 8))).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([64, 64]); // IHDR width, height
  await page.screenshot({ path: info.outputPath('demo-image.png'), fullPage: true });

  // Another seed: other pixels. The same seed again: the same pixels.
  const other = await generate(page, { seed: 43 });
  expect(imageDiff(other.data, first.data).mean).toBeGreaterThan(1);
  const again = await generate(page, { seed: 42 });
  expect([again.width, again.height]).toEqual([64, 64]);
  expect(again.data).toEqual(first.data);
});

test('demo image page: Stop ends a long generation at a step, and the next one works', async ({ page }) => {
  await openImagePage(page);
  await watchSteps(page);
  await page.fill('#sd-steps', '1000');
  await page.selectOption('#sd-width', '256');
  await page.selectOption('#sd-height', '256');
  // Press Stop as soon as step 3 is reported (from the page itself: the tiny model takes only milliseconds
  // a step, so a click from the test could come after the 1000th).
  await page.evaluate(() => {
    const line = document.getElementById('sd-step-text')!;
    const obs = new MutationObserver(() => {
      if (!line.textContent?.startsWith('step 3 of 1000')) return;
      obs.disconnect();
      (document.getElementById('sd-stop') as HTMLButtonElement).click();
    });
    obs.observe(line, { childList: true, characterData: true, subtree: true });
  });
  await page.click('#sd-generate');
  await expect(page.locator('#sd-stats')).toHaveAttribute('data-done', 'stopped', { timeout: 30_000 });
  const stopped = Number(((await page.locator('#sd-stats').textContent()) ?? '').match(/after step (\d+) of 1000/)?.[1]);
  expect(stopped).toBeGreaterThan(0);
  expect(stopped).toBeLessThan(1000);
  await expect(page.locator('#sd-generate')).toBeEnabled();
  const next = await generate(page, { seed: 7 });
  expect([next.width, next.height]).toEqual([64, 64]);
  expect(spread(next.data)).toBeGreaterThan(10);
});

test('demo image page: a local folder selection (webkitdirectory) gives the same image as the URL', async ({ page }, info) => {
  await openImagePage(page);
  await watchSteps(page);
  const byUrl = await generate(page, { seed: 42 });
  await page.selectOption('#sd-source', 'folder');
  await expect(page.locator('#sd-generate')).toBeDisabled(); // no folder chosen yet
  await page.setInputFiles('#sd-folder', MODEL_DIR);
  await expect(page.locator('#sd-folder-text')).toContainText('tiny-sd: 12 files');
  const byFolder = await generate(page, { seed: 42 });
  await expect(page.locator('#sd-status')).toContainText('Loaded tiny-sd');
  await expect(page.locator('#sd-builtin-note')).toBeHidden();
  await expect(page.locator('#sd-load-text')).toContainText('Ready');
  expect(byFolder.data).toEqual(byUrl.data);
  await page.screenshot({ path: info.outputPath('demo-image-folder.png'), fullPage: true });
});
