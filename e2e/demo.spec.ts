// The demo page as a person uses it: diagnostics, load the built-in model, generate, stop. Built with
// `npm run build:demo` (demo/dist). Screenshots are saved as test artifacts.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';

const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};

test('demo: diagnostics, load the built-in model, greedy text equals the exact reference', async ({ page }, info) => {
  await page.goto('/demo/dist/index.html');
  await expect(page.locator('#diag-list')).toContainText('activation precision');
  await expect(page.locator('#diag-list')).toContainText('f32');
  await page.click('#model-load');
  await expect(page.locator('body')).toHaveAttribute('data-model', 'ready', { timeout: 60_000 });
  await expect(page.locator('#model-status')).toContainText('fortunes-1.8m');
  const { prompt, text_until_eos } = reference.prompts[0]!;
  await page.fill('#prompt', prompt);
  await page.fill('#max-tokens', '32');
  await page.fill('#temperature', '0');
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toContainText('finish', { timeout: 120_000 });
  await expect(page.locator('#output-prompt')).toHaveText(prompt);
  await expect(page.locator('#output-text')).toHaveText(text_until_eos);
  await page.screenshot({ path: info.outputPath('demo-generated.png'), fullPage: true });
});

test('demo: the stop button ends a long generation, and the next one works', async ({ page }) => {
  await page.goto('/demo/dist/index.html');
  await page.click('#model-load');
  await expect(page.locator('body')).toHaveAttribute('data-model', 'ready', { timeout: 60_000 });
  await page.fill('#max-tokens', '200');
  await page.fill('#temperature', '0.8');
  await page.click('#generate-run');
  await expect(page.locator('#output-text')).not.toHaveText('', { timeout: 60_000 });
  await page.click('#generate-stop');
  await expect(page.locator('#generate-stats')).toHaveText('Stopped.', { timeout: 30_000 });
  await expect(page.locator('#generate-run')).toBeEnabled();
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', '32');
  await page.fill('#prompt', reference.prompts[1]!.prompt);
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toContainText('finish', { timeout: 120_000 });
  await expect(page.locator('#output-text')).toHaveText(reference.prompts[1]!.text_until_eos);
});
