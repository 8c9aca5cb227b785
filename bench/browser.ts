/**
 * What the browser benchmarks (cache, backends, diffusion) share: scripts/serve.mjs on a port of 127.0.0.1
 * serving the repository, Debian's Chromium launched as the e2e tests launch it (playwright.config.ts:
 * WebGPU on SwiftShader), and a call into a page-side module loaded by URL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chromium, type Browser, type Page } from '@playwright/test';
import playwrightConfig from '../playwright.config';

const ROOT = new URL('../', import.meta.url).pathname;

/** Starts scripts/serve.mjs on `port`; resolves once it listens. Kill the child when done. */
export async function startServer(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [`${ROOT}scripts/serve.mjs`, ROOT, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`scripts/serve.mjs exited (code ${code}); is port ${port} taken? (--port N)`)));
    child.stdout!.once('data', () => resolve());
  });
  return child;
}

/** Chromium with the e2e suite's launch options (CHROMIUM_PATH overrides the executable). */
export function launchChromium(): Promise<Browser> {
  const launch = playwrightConfig.use?.launchOptions ?? {};
  return chromium.launch({ ...launch, executablePath: process.env.CHROMIUM_PATH ?? launch.executablePath });
}

/**
 * Runs export `name` of the page-side module at `moduleUrl` with `arg` (JSON) in the page. The module is
 * plain JavaScript loaded by URL: the benchmarks go through Vite's module runner, which would rewrite
 * import() in functions given to page.evaluate.
 */
export function callInPage<T>(page: Page, moduleUrl: string, name: string, arg: unknown): Promise<T> {
  return page.evaluate(`import(${JSON.stringify(moduleUrl)}).then((m) => m.${name}(${JSON.stringify(arg)}))`) as Promise<T>;
}
