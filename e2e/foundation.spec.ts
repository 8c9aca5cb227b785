// The SDK builds in a real browser (Debian's Chromium, WebGPU on SwiftShader): the ES module imported by
// URL under a strict Content-Security-Policy, the script-tag build, the capability report, and kernels
// checked against CPU references computed here in the test.
import { expect, test, type Page } from '@playwright/test';

async function openStrictPage(page: Page): Promise<string[]> {
  const violations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/.test(msg.text())) violations.push(msg.text());
  });
  await page.goto('/e2e/pages/esm.html');
  await page.evaluate(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      ((window as unknown as { __csp: string[] }).__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return violations;
}

test('ESM build imports by URL under a strict CSP and reports capabilities', async ({ page }) => {
  const violations = await openStrictPage(page);
  const report = await page.evaluate(async () => {
    const inpage = await import('/dist/inpage.js' as string);
    const caps = await inpage.capabilities();
    return { version: inpage.version, caps, csp: (window as unknown as { __csp?: string[] }).__csp ?? [] };
  });
  expect(report.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(report.caps.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  expect(typeof report.caps.features.subgroups).toBe('boolean');
  // SwiftShader has no shader-f16: inpage must have chosen the f32 path.
  expect(report.caps.features.shaderF16).toBe(false);
  expect(report.caps.precision).toBe('f32');
  expect(report.csp).toEqual([]);
  expect(violations).toEqual([]);
});

test('the CSP really forbids eval on these pages (negative control)', async ({ page }) => {
  await openStrictPage(page);
  const outcome = await page.evaluate(async () => {
    const mod = await import('/e2e/pages/uses-eval.js' as string);
    try {
      return `ran: ${mod.evaluate()}`;
    } catch (e) {
      return `blocked: ${(e as Error).name}`;
    }
  });
  expect(outcome).toBe('blocked: EvalError');
});

test('script-tag build exposes a global inpage', async ({ page }) => {
  await page.goto('/e2e/pages/iife.html');
  const result = await page.evaluate(async () => {
    const g = (window as unknown as { inpage: { version: string; capabilities: () => Promise<{ precision: string }> } }).inpage;
    return { version: g.version, precision: (await g.capabilities()).precision };
  });
  expect(result.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(result.precision).toBe('f32');
});

test('a kernel runs in the browser and matches the input byte for byte', async ({ page }) => {
  await openStrictPage(page);
  const same = await page.evaluate(async () => {
    const inpage = await import('/dist/inpage.js' as string);
    const gpu = await inpage.acquireGpu();
    const data = new Uint8Array(1 << 16).map((_, i) => (i * 2654435761) >>> 24);
    const a = gpu.allocator.createBufferFrom(data, 'a');
    const b = gpu.allocator.createBuffer(data.byteLength, 'b');
    const rec = new inpage.gpu.Recorder(gpu);
    inpage.ops.copyWords(rec, a, b, data.byteLength);
    rec.submit();
    const out = new Uint8Array(await inpage.gpu.readBuffer(gpu, b));
    gpu.destroy();
    return out.every((v: number, i: number) => v === data[i]) && out.length === data.length;
  });
  expect(same).toBe(true);
});
