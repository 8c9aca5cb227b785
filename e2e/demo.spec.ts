// The demo page as a person uses it: diagnostics, load the built-in model, chat with it (streamed reply,
// time to first token, tokens/s), raw completion with greedy text equal to the exact reference, stop, the
// IndexedDB cache (a reload downloads nothing; the cache manager lists and deletes), a local GGUF file
// by drag and drop and by the file input, and the backend selector. Built with `npm run build:demo`
// (demo/dist); the engine runs in the demo's Web Worker. Screenshots are saved as test artifacts (test-results/).
//
// The browser here has only a software WebGPU adapter (SwiftShader, see playwright.config.ts), so backend
// 'auto' (the picker's default) runs the model on onnxruntime-web's WASM build and says so; one test asks
// for 'webgpu' (inpage's own kernels) and then 'wasm' explicitly.
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';

const reference = JSON.parse(readFileSync(new URL('../../shared/models/fortunes-1.8m/reference/exact-q4_0.json', import.meta.url), 'utf8')) as {
  prompts: { prompt: string; text_until_eos: string }[];
};
const MODEL_FILE = new URL('../public/models/fortunes-1.8m-q4_0.gguf', import.meta.url);
const MODEL_NAME = 'fortunes-1.8m-q4_0.gguf';
const MODEL_SIZE = 1031008;
const PAGE = '/demo/dist/index.html';

/** Counts the page's (and its worker's) requests for .gguf files. */
function countModelRequests(page: Page): { count: number } {
  const counter = { count: 0 };
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.endsWith('.gguf')) counter.count++;
  });
  return counter;
}

async function loadDefault(page: Page): Promise<void> {
  await page.click('#model-load');
  await expect(page.locator('body')).toHaveAttribute('data-model', 'ready', { timeout: 60_000 });
  await expect(page.locator('#model-status')).toContainText('fortunes-1.8m');
}

/** Counts text updates of the assistant bubbles, to tell a streamed reply from one that appears at once. */
async function watchStreaming(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { replyUpdates: number };
    w.replyUpdates = 0;
    new MutationObserver((records) => {
      for (const r of records) {
        const node = r.target instanceof Element ? r.target : r.target.parentElement;
        if (node?.closest('.msg.assistant .body')) w.replyUpdates++;
      }
    }).observe(document.getElementById('chat-log')!, { subtree: true, childList: true, characterData: true });
  });
}

/** Sends one chat message; waits for the reply to finish; returns its text and the stats line. */
async function say(page: Page, text: string): Promise<{ reply: string; stats: string; updates: number }> {
  const before = await page.locator('.msg.assistant').count();
  await page.evaluate(() => ((window as unknown as { replyUpdates: number }).replyUpdates = 0));
  await page.fill('#chat-input', text);
  await page.press('#chat-input', 'Enter');
  await expect(page.locator('#chat-stats')).toHaveAttribute('data-done', 'done', { timeout: 120_000 });
  await expect(page.locator('.msg.assistant')).toHaveCount(before + 1);
  const reply = (await page.locator('.msg.assistant .body').last().textContent()) ?? '';
  const stats = (await page.locator('#chat-stats').textContent()) ?? '';
  const updates = await page.evaluate(() => (window as unknown as { replyUpdates: number }).replyUpdates);
  return { reply, stats, updates };
}

/**
 * Clicks a Stop button from inside the page as soon as the first streamed text shows in `textSelector`. On
 * WASM the built-in model writes a whole reply in well under a second, sooner than a click from the test
 * process can land, so the page clicks while the worker is still generating. Whether the abort reaches the
 * worker in time is what the caller checks: a generation that ran to its end reports done, not stopped.
 */
async function stopOnFirstText(page: Page, textSelector: string, stopSelector: string): Promise<void> {
  await page.evaluate(([textSel, stopSel]) => {
    const observer = new MutationObserver(() => {
      if (!document.querySelector(textSel)?.textContent?.trim()) return;
      observer.disconnect();
      document.querySelector<HTMLButtonElement>(stopSel)!.click();
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  }, [textSelector, stopSelector] as const);
}

/** Number from the chat stats line, e.g. "prompt 12 tokens" → 12. */
function statNumber(stats: string, re: RegExp): number {
  const m = stats.match(re);
  expect(m, `${re} in "${stats}"`).not.toBeNull();
  return Number(m![1]);
}

/** A greedy 32-token completion of `p.prompt` in the demo's completion mode; the text must be `p.text_until_eos`. */
async function completeGreedy(page: Page, p: { prompt: string; text_until_eos: string }): Promise<void> {
  await page.click('#mode-complete');
  await page.fill('#prompt', p.prompt);
  await page.fill('#max-tokens', '32');
  await page.fill('#temperature', '0');
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toContainText('finish', { timeout: 120_000 });
  await expect(page.locator('#output-text')).toHaveText(p.text_until_eos);
}

test('demo: diagnostics, load the built-in model, greedy text equals the exact reference', async ({ page }, info) => {
  await page.goto(PAGE);
  await expect(page.locator('#diag-list')).toContainText('activation precision');
  await expect(page.locator('#diag-list')).toContainText('f32');
  await expect(page.locator('#diag-list')).toContainText(/software adapter\s*true/);
  await expect(page.locator('#diag-status')).toContainText('software adapter');
  await expect(page.locator('#model-backend')).toHaveValue('auto'); // the default
  await loadDefault(page);
  await completeGreedy(page, reference.prompts[0]!);
  await expect(page.locator('#output-prompt')).toHaveText(reference.prompts[0]!.prompt);
  // The diagnostics panel says where the model runs and why: 'auto' on a software adapter means WASM.
  await expect(page.locator('#diag-model')).toHaveAttribute('data-backend', 'wasm');
  await expect(page.locator('#diag-model')).toContainText('backendwasm — software adapter (SwiftShader): WASM is faster');
  await expect(page.locator('#diag-model')).toContainText('asked forauto');
  await expect(page.locator('#diag-model')).toContainText('in WebAssembly memory');
  await expect(page.locator('#diag-model')).toContainText('Web Worker — the default in browsers');
  // …as did the load's progress events and its status line.
  await expect(page.locator('body')).toHaveAttribute('data-load-backend', 'backend wasm: software adapter (SwiftShader): WASM is faster');
  await expect(page.locator('#model-status')).toContainText(' on wasm (onnxruntime-web');
  await page.screenshot({ path: info.outputPath('demo-generated.png'), fullPage: true });
});

test('demo: the stop button ends a long generation, and the next one works', async ({ page }) => {
  await page.goto(PAGE);
  await loadDefault(page);
  await page.click('#mode-complete');
  await page.fill('#max-tokens', '200');
  await page.fill('#temperature', '0.8');
  await stopOnFirstText(page, '#output-text', '#generate-stop');
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toHaveText('Stopped.', { timeout: 30_000 });
  await expect(page.locator('#output-text')).not.toHaveText(''); // the partial text stays
  await expect(page.locator('#generate-run')).toBeEnabled();
  await page.fill('#temperature', '0');
  await page.fill('#max-tokens', '32');
  await page.fill('#prompt', reference.prompts[1]!.prompt);
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toContainText('finish', { timeout: 120_000 });
  await expect(page.locator('#output-text')).toHaveText(reference.prompts[1]!.text_until_eos);
});

test('demo chat: streamed replies with TTFT and tok/s, history kept; a reload reads the weights from IndexedDB with no .gguf request', async ({ page }, info) => {
  test.setTimeout(300_000); // two model loads and four chat turns on a software GPU
  const requests = countModelRequests(page);
  await page.goto(PAGE);
  await expect(page.locator('#chat-send')).toBeDisabled();
  await loadDefault(page);
  expect(requests.count).toBeGreaterThan(0); // the counter sees the worker's download
  await expect(page.locator('body')).toHaveAttribute('data-load-phases', /download/);
  await expect(page.locator('#model-progress-text')).toHaveText('Ready');
  await expect(page.locator('#chat-send')).toBeEnabled();
  await expect(page.locator('#chat-note')).toContainText('no chat template');
  await expect(page.locator('#diag-model')).toContainText('Web Worker — the default in browsers');

  await watchStreaming(page);
  await page.fill('#max-tokens', '48');
  const first = await say(page, 'Tell me my fortune.');
  expect(first.reply.trim().length).toBeGreaterThan(0);
  expect(first.reply).not.toContain('(no words');
  expect(first.updates).toBeGreaterThan(1); // the reply arrived in pieces
  expect(first.stats).toMatch(/first token \d+ ms · [\d.]+ tok\/s · \d+ tokens/);
  expect(statNumber(first.stats, /([\d.]+) tok\/s/)).toBeGreaterThan(0);
  expect(statNumber(first.stats, /first token (\d+) ms/)).toBeGreaterThan(0);
  expect(Number(await page.locator('#chat-stats').getAttribute('data-tokens-per-second'))).toBeGreaterThan(0);
  expect(Number(await page.locator('#chat-stats').getAttribute('data-ttft-ms'))).toBeGreaterThan(0);
  await expect(page.locator('.msg.user .body')).toHaveText(['Tell me my fortune.']);

  // The second turn is sent with the whole conversation: its prompt holds the first turn too.
  const second = await say(page, 'And tomorrow?');
  await expect(page.locator('.msg')).toHaveCount(4);
  await expect(page.locator('#diag-model')).toContainText('256 tokens of context');
  const firstPrompt = statNumber(first.stats, /prompt (\d+) tokens/);
  const secondPrompt = statNumber(second.stats, /prompt (\d+) tokens/);
  expect(secondPrompt).toBeGreaterThanOrEqual(firstPrompt + 5); // at least the reply and "user: And tomorrow?" lines

  // A long message that, with the history and room for a 100-token reply, would not fit the 256-token
  // context: the oldest turns are left out (and the reply says so) instead of failing.
  await page.fill('#max-tokens', '100');
  const long = 'The sea is wide and the night is long. '.repeat(8).trim();
  const third = await say(page, long);
  await expect(page.locator('.msg.assistant .meta').last()).toContainText('left out to fit the 256-token context');
  expect(statNumber(third.stats, /prompt (\d+) tokens/)).toBeLessThanOrEqual(256 - 100);
  expect(statNumber(third.stats, /prompt (\d+) tokens/) + secondPrompt).toBeGreaterThan(256 - 100); // all of it would not have fit

  // The cache manager lists the downloaded file with its size.
  const entry = page.locator(`.cache-entry[data-url$="/${MODEL_NAME}"]`);
  await expect(entry).toHaveCount(1);
  await expect(entry).toHaveAttribute('data-size', String(MODEL_SIZE));
  await expect(entry.locator('.cache-size')).toHaveText('1.0 MB');
  await page.screenshot({ path: info.outputPath('demo-chat.png'), fullPage: true });

  // Reload: the weights come from IndexedDB, with no request for the .gguf at all.
  requests.count = 0;
  await page.reload();
  await expect(page.locator(`.cache-entry[data-url$="/${MODEL_NAME}"]`)).toHaveCount(1);
  await loadDefault(page);
  await expect(page.locator('body')).toHaveAttribute('data-load-phases', /cache-read/);
  await expect(page.locator('body')).not.toHaveAttribute('data-load-phases', /download/);
  await watchStreaming(page);
  const again = await say(page, 'Hello again.');
  expect(again.reply.trim().length).toBeGreaterThan(0);
  expect(again.stats).toContain('tok/s');
  expect(requests.count).toBe(0);
  await page.screenshot({ path: info.outputPath('demo-chat-after-reload.png'), fullPage: true });
});

test('demo cache manager: deleting the model removes it, and the next load downloads it again', async ({ page }, info) => {
  test.setTimeout(300_000);
  const requests = countModelRequests(page);
  await page.goto(PAGE);
  await expect(page.locator('#cache-summary')).toHaveText(/Nothing cached yet/);
  await loadDefault(page);
  const entry = page.locator(`.cache-entry[data-url$="/${MODEL_NAME}"]`);
  await expect(entry).toHaveAttribute('data-size', String(MODEL_SIZE));
  await expect(page.locator('#cache-summary')).toContainText('1 file, 1.0 MB');
  await page.screenshot({ path: info.outputPath('demo-cache-listed.png'), fullPage: true });

  await entry.locator('.cache-delete').click();
  await expect(page.locator('.cache-entry')).toHaveCount(0);
  await expect(page.locator('#cache-summary')).toHaveText(/Nothing cached yet/);
  // Gone from IndexedDB, not just from the list: a reload lists nothing, and loading downloads again.
  await page.reload();
  await expect(page.locator('#cache-summary')).toHaveText(/Nothing cached yet/);
  await expect(page.locator('.cache-entry')).toHaveCount(0);
  requests.count = 0;
  await loadDefault(page);
  expect(requests.count).toBeGreaterThan(0);
  await expect(page.locator('body')).toHaveAttribute('data-load-phases', /download/);
  await expect(page.locator('.cache-entry')).toHaveCount(1);

  // Stop in the chat: the partial reply stays, and the model is free for the next turn.
  await page.fill('#max-tokens', '200');
  await page.fill('#chat-input', 'Talk for a long time.');
  await stopOnFirstText(page, '.msg.assistant .body', '#chat-stop');
  await page.click('#chat-send');
  await expect(page.locator('#chat-stats')).toHaveAttribute('data-done', 'stopped', { timeout: 30_000 });
  await expect(page.locator('.msg.assistant .body')).not.toHaveText('');
  await expect(page.locator('#chat-stats')).toHaveText(/^Stopped\./);
  await expect(page.locator('.msg.assistant .meta')).toHaveText('stopped');
  await expect(page.locator('#chat-send')).toBeEnabled();
  await page.fill('#max-tokens', '16');
  const next = await say(page, 'Short, please.');
  expect(next.stats).toContain('tok/s');
  await expect(page.locator('.msg')).toHaveCount(4);
});

test('demo local file: drag and drop a GGUF, or pick it with the file input; it loads and generates with no download', async ({ page }, info) => {
  test.setTimeout(300_000);
  const requests = countModelRequests(page);
  await page.goto(PAGE);
  await expect(page.locator('#diag-list')).toContainText('activation precision');
  const bytes = readFileSync(MODEL_FILE);

  // Drag and drop onto the chat area (anywhere on the page works).
  await page.evaluate(async (b64) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([data], 'dropped-fortunes.gguf'));
    const target = document.getElementById('chat-log')!;
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes.toString('base64'));
  await expect(page.locator('body')).toHaveAttribute('data-model', 'ready', { timeout: 60_000 });
  await expect(page.locator('#model-status')).toContainText('fortunes-1.8m');
  await expect(page.locator('#model-pick')).toHaveValue('file');
  await expect(page.locator('#model-drop')).toContainText('dropped-fortunes.gguf');
  await expect(page.locator('#diag-model')).toContainText('dropped-fortunes.gguf');
  await expect(page.locator('#diag-model')).toContainText('Web Worker — the default in browsers'); // the File went to the worker
  await watchStreaming(page);
  const dropped = await say(page, 'What does the future hold?');
  expect(dropped.reply.trim().length).toBeGreaterThan(0);
  expect(dropped.stats).toMatch(/first token \d+ ms · [\d.]+ tok\/s/);
  await page.screenshot({ path: info.outputPath('demo-dropped-file.png'), fullPage: true });

  // The file input (a new model replaces the dropped one); raw completion equals the exact reference.
  await page.setInputFiles('#model-file', { name: 'picked-fortunes.gguf', mimeType: 'application/octet-stream', buffer: bytes });
  await expect(page.locator('#diag-model')).toContainText('picked-fortunes.gguf', { timeout: 60_000 });
  await expect(page.locator('#diag-model')).toContainText('Web Worker — the default in browsers');
  await expect(page.locator('#model-status')).toContainText('Loaded fortunes-1.8m');
  await expect(page.locator('body')).toHaveAttribute('data-model', 'ready');
  await expect(page.locator('.msg')).toHaveCount(0); // a new model starts a new conversation
  await completeGreedy(page, reference.prompts[0]!);

  // Local files are read in place: nothing was fetched and nothing was cached.
  expect(requests.count).toBe(0);
  await page.click('#cache-refresh');
  await expect(page.locator('#cache-summary')).toHaveText(/Nothing cached yet/);
  await page.screenshot({ path: info.outputPath('demo-picked-file.png'), fullPage: true });
});

test("demo: onnxruntime-web's WASM threads in the bundled app's worker (2 forced, cross-origin isolated) load and give the exact greedy text", async ({ page }) => {
  test.setTimeout(180_000);
  await page.goto(`${PAGE}?threads=2`);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true); // else onnxruntime-web runs 1 thread whatever is asked
  await page.selectOption('#model-backend', 'wasm');
  await loadDefault(page); // hung at the weight upload when the threads started from the worker bundle itself
  await expect(page.locator('#diag-model')).toHaveAttribute('data-backend', 'wasm');
  await expect(page.locator('#diag-model')).toContainText('2 threads');
  await completeGreedy(page, reference.prompts[2]!);
});

test('demo backend selector: webgpu (inpage\'s kernels) on request generates the exact greedy text; then wasm on request', async ({ page }, info) => {
  test.setTimeout(300_000);
  await page.goto(PAGE);
  await expect(page.locator('#diag-list')).toContainText('activation precision');
  await page.selectOption('#model-backend', 'webgpu');
  await loadDefault(page);
  const diag = page.locator('#diag-model');
  await expect(diag).toHaveAttribute('data-backend', 'webgpu');
  // Asked for explicitly, our kernels run even on the software adapter, and the reason names it.
  await expect(diag).toContainText(/backendwebgpu — requested \(adapter: .*\(software\)\)/);
  await expect(diag).toContainText('asked forwebgpu');
  await expect(diag).toContainText('on the GPU');
  await expect(page.locator('body')).toHaveAttribute('data-load-backend', /^backend webgpu: requested/);
  await expect(page.locator('#model-status')).toContainText(' on webgpu (');

  await completeGreedy(page, reference.prompts[0]!);
  await expect(page.locator('#generate-stats')).toContainText(/decode [\d.]+ tok\/s/);
  await page.screenshot({ path: info.outputPath('demo-backend-webgpu.png'), fullPage: true });

  // Switching to 'wasm' and loading again replaces the model (from the cache) with the WASM one.
  await page.selectOption('#model-backend', 'wasm');
  await loadDefault(page);
  await expect(diag).toHaveAttribute('data-backend', 'wasm');
  await expect(diag).toContainText('backendwasm — requested');
  await expect(diag).toContainText('asked forwasm');
  await expect(page.locator('body')).toHaveAttribute('data-load-phases', /cache-read/);
  const second = reference.prompts[1]!;
  await page.fill('#prompt', second.prompt);
  await page.click('#generate-run');
  await expect(page.locator('#generate-stats')).toContainText('finish', { timeout: 120_000 });
  await expect(page.locator('#output-text')).toHaveText(second.text_until_eos);
});
