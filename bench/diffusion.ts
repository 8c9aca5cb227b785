/**
 * Stable Diffusion benchmark: `npm run bench:diffusion` (part of `npm run bench`). Seconds per UNet step and
 * per image on onnxruntime-web's WASM provider in Node (1 thread, as a page that is not cross-origin isolated
 * gets), then on its WebGPU provider in Chromium (below).
 *
 *  1. The tiny random-weight export of the tests (test/reference/sd_models.ts) through the whole pipeline
 *     (loadDiffusion → generate), 64×64 and 128×128, 20 Euler steps, guidance 7.5 (batch-2 UNet).
 *  2. A real-shape slice of the SD 1.5 UNet with random weights, at 512×512 (64×64 latents), batch 2
 *     (classifier-free guidance), 77×768 text context: conv_in 4→320, the time MLP 320→1280, then the first
 *     down level at full resolution (ResNet block 320 + Transformer block 320 with 8-head self-attention over
 *     4096 tokens, 8-head cross-attention on the context and a GEGLU feed-forward), downsample, a ResNet
 *     320→640 at 32×32, and a mid-block-like ResNet + cross-attention Transformer at 1280 channels (8×8),
 *     conv_out. The full 860M-parameter UNet (3.4 GB of fp32 weights, ~25 such blocks) does not fit this
 *     machine's time budget on 2 shared CPU cores; the slice's share of the full UNet's work is estimated
 *     below from its multiply-adds.
 *
 * Every row checks that its output is finite and not constant. Writes bench/results/diffusion.{md,json}.
 *
 * WebGPU rows (onnxruntime-web's WebGPU EP runs only in a browser here): Debian's Chromium with
 * playwright.config.ts's launch options (WebGPU on SwiftShader, a CPU Vulkan) against scripts/serve.mjs, the
 * library from dist/ (run `npm run build` first), page code in bench/diffusion_page.js: the tiny export through
 * loadDiffusion({ backend: 'webgpu' }) (same requests as the WASM rows), and the SD 1.5 slice (written once to
 * bench/.cache/sd15-slice/) on the WebGPU EP, cut off after --slice-limit seconds (default 240) with what it
 * measured by then. On SwiftShader these figures time the CPU emulation: compare them only with rows of the same run.
 * Options: --no-webgpu, --no-wasm, --slice-limit S, --port N (4194).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import type { Page } from '@playwright/test';
import { callInPage, launchChromium, startServer } from './browser';
import { join } from 'node:path';
import { OnnxGraphBuilder } from '../src/formats/onnx/graph_builder';
import { loadOrtFor } from '../src/backends/ort/diffusion_components';
import { loadDiffusion } from '../src/runtime/diffusion_load';
import { folderMap, writeTinySd } from '../test/reference/sd_models';

// bench/run.mjs closes Vite's module runner once this module is imported, so onnxruntime-web is imported
// (and cached by the shared loader) now, while it is open, not on first use.
await loadOrtFor('wasm');

interface Row {
  case: string;
  /** Where and on which onnxruntime-web execution provider. */
  provider: string;
  /** Cut off by the time limit (WebGPU slice): the figures are what it measured by then. */
  partial?: boolean;
  shapes: string;
  secondsPerUnetStep: number;
  secondsPerImage: number | null;
  steps: number | null;
  gmacPerStep: number | null;
  finite: boolean;
  nonConstant: boolean;
  note: string;
}

function stats(x: ArrayLike<number>): { finite: boolean; nonConstant: boolean } {
  let finite = true, min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (!Number.isFinite(v)) finite = false;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { finite, nonConstant: max > min };
}

async function tinyRows(): Promise<Row[]> {
  const dir = writeTinySd(mkdtempSync(join(tmpdir(), 'bench-sd-')));
  const sd = await loadDiffusion({ files: folderMap(dir), backend: 'wasm', worker: false });
  const rows: Row[] = [];
  for (const size of [64, 128]) {
    const req = { prompt: 'a red cat', negativePrompt: 'dog', steps: 20, guidance: 7.5, seed: 1, width: size, height: size };
    await sd.generate({ ...req, steps: 2 }); // warm-up
    const times: number[] = [];
    let last;
    for (let r = 0; r < 3; r++) {
      last = await sd.generate(req);
      times.push(last.timings.total);
    }
    const perStep = last!.timings.perStep;
    rows.push({
      case: `tiny export, whole pipeline, ${size}×${size}`,
      provider: WASM_PROVIDER,
      shapes: `sample [2,4,${size / 8},${size / 8}], context [2,77,32]`,
      secondsPerUnetStep: perStep,
      secondsPerImage: Math.min(...times),
      steps: 20,
      gmacPerStep: null,
      ...stats(last!.data),
      note: 'best of 3; per step = UNet batch 2 + guidance + Euler step',
    });
  }
  await sd.unload();
  return rows;
}

/** SD 1.5 UNet slice (see the header), random weights, fp32. Returns the model and its multiply-adds per run. */
function sd15Slice(): { model: Uint8Array; externalData: { path: string; data: Uint8Array }; macs: number } {
  const g = new OnnxGraphBuilder('sd15_unet_slice');
  const B = 2, H = 64, W = 64, CTX = 768, HEADS = 8;
  let macs = 0;
  let seed = 12345;
  const rand = (n: number, scale: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      out[i] = ((seed / 4294967296) * 2 - 1) * scale;
    }
    return out;
  };
  let id = 0;
  const w = (dims: number[], scale: number) => g.initializer(`w${id++}`, { type: 'float32', dims, data: rand(dims.reduce((a, b) => a * b, 1), scale) });
  const conv = (x: string, cin: number, cout: number, hw: number, k = 3, stride = 1) => {
    const pad = k === 3 ? 1 : 0;
    macs += B * (hw / stride) * (hw / stride) * cin * cout * k * k;
    return g.op('Conv', [x, w([cout, cin, k, k], Math.sqrt(3 / (cin * k * k))), w([cout], 0.01)], { pads: [pad, pad, pad, pad], kernel_shape: [k, k], strides: [stride, stride] });
  };
  const linear = (x: string, cin: number, cout: number, tokens: number) => {
    macs += B * tokens * cin * cout;
    return g.op('MatMul', [x, w([cin, cout], Math.sqrt(3 / cin))]);
  };
  const silu = (x: string) => g.op('Mul', [x, g.op('Sigmoid', [x])]);
  const groupNorm = (x: string, c: number) => {
    const r = g.op('Reshape', [x, g.int64s(`gn${id++}`, [3], [0, 32, -1])]);
    const mean = g.op('ReduceMean', [r, g.int64s(`ax${id++}`, [1], [2])], { keepdims: 1 });
    const d = g.op('Sub', [r, mean]);
    const v = g.op('ReduceMean', [g.op('Mul', [d, d]), g.int64s(`ax${id++}`, [1], [2])], { keepdims: 1 });
    const n = g.op('Div', [d, g.op('Sqrt', [g.op('Add', [v, g.floats(`eps${id++}`, [], [1e-5])])])]);
    const back = g.op('Reshape', [n, g.op('Shape', [x])]);
    return g.op('Add', [g.op('Mul', [back, g.floats(`gg${id++}`, [c, 1, 1], new Float32Array(c).fill(1))]), g.floats(`gb${id++}`, [c, 1, 1], new Float32Array(c))]);
  };
  const layerNorm = (x: string, c: number) =>
    g.op('LayerNormalization', [x, g.floats(`lg${id++}`, [c], new Float32Array(c).fill(1)), g.floats(`lb${id++}`, [c], new Float32Array(c))], { axis: -1, epsilon: { float: 1e-5 } });
  const resnet = (x: string, cin: number, cout: number, hw: number, temb: string) => {
    let h = conv(silu(groupNorm(x, cin)), cin, cout, hw);
    const t = g.op('Unsqueeze', [linear(silu(temb), 1280, cout, 1), g.int64s(`ua${id++}`, [2], [2, 3])]);
    h = g.op('Add', [h, t]);
    h = conv(silu(groupNorm(h, cout)), cout, cout, hw);
    const skip = cin === cout ? x : conv(x, cin, cout, hw, 1);
    return g.op('Add', [skip, h]);
  };
  const attention = (x: string, c: number, tokens: number, ctx: string | null, ctxDim: number, ctxLen: number) => {
    const dh = c / HEADS;
    const q = linear(x, c, c, tokens);
    const kv = ctx ?? x;
    const kd = ctx ? ctxDim : c;
    const len = ctx ? ctxLen : tokens;
    const k = linear(kv, kd, c, len);
    const v = linear(kv, kd, c, len);
    const heads = (t: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [t, g.int64s(`hs${id++}`, [4], [0, 0, HEADS, dh])])], { perm });
    const scores = g.op('Mul', [g.op('MatMul', [heads(q, [0, 2, 1, 3]), heads(k, [0, 2, 3, 1])]), g.floats(`sc${id++}`, [], [1 / Math.sqrt(dh)])]);
    macs += 2 * B * HEADS * tokens * len * dh;
    const o = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), heads(v, [0, 2, 1, 3])]);
    const merged = g.op('Reshape', [g.op('Transpose', [o], { perm: [0, 2, 1, 3] }), g.int64s(`mg${id++}`, [3], [0, 0, c])]);
    return linear(merged, c, c, tokens);
  };
  const transformer = (x: string, c: number, hw: number, selfAttn: boolean) => {
    const tokens = hw * hw;
    const normed = groupNorm(x, c);
    let h = g.op('Transpose', [g.op('Reshape', [normed, g.int64s(`fl${id++}`, [3], [0, c, -1])])], { perm: [0, 2, 1] });
    h = linear(h, c, c, tokens); // proj_in
    if (selfAttn) h = g.op('Add', [h, attention(layerNorm(h, c), c, tokens, null, 0, 0)]);
    h = g.op('Add', [h, attention(layerNorm(h, c), c, tokens, 'encoder_hidden_states', CTX, 77)]);
    const ff = linear(layerNorm(h, c), c, 8 * c, tokens); // GEGLU: 2 × 4c
    const [a, gate] = g.node('Split', [ff, g.int64s(`sp${id++}`, [2], [4 * c, 4 * c])], 2, { axis: -1 });
    const gelu = g.op('Gelu', [gate!]);
    h = g.op('Add', [h, linear(g.op('Mul', [a!, gelu]), 4 * c, c, tokens)]);
    h = linear(h, c, c, tokens); // proj_out
    const back = g.op('Reshape', [g.op('Transpose', [h], { perm: [0, 2, 1] }), g.op('Shape', [x])]);
    return g.op('Add', [x, back]);
  };

  g.input('sample', 'float32', ['batch', 4, 'height', 'width']);
  g.input('timestep', 'int64', ['steps']);
  g.input('encoder_hidden_states', 'float32', ['batch', 'sequence_length', CTX]);
  // Time embedding: sinusoidal 320 → Linear 1280 → SiLU → Linear 1280.
  const t = g.op('Reshape', [g.op('Cast', ['timestep'], { to: 1 }), g.int64s('tshape', [2], [-1, 1])]);
  const args = g.op('Mul', [t, g.floats('tfreq', [1, 160], Array.from({ length: 160 }, (_, i) => Math.exp((-Math.log(10000) * i) / 160)))]);
  const tsin = g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: 1 });
  const temb = linear(silu(linear(tsin, 320, 1280, 1)), 1280, 1280, 1);
  const tembB = g.op('Expand', [temb, g.int64s('texp', [2], [B, 1280])]);
  let h = conv('sample', 4, 320, H);
  h = resnet(h, 320, 320, H, tembB);
  h = transformer(h, 320, H, true);
  h = conv(h, 320, 320, H, 3, 2); // downsample → 32×32
  h = resnet(h, 320, 640, H / 2, tembB);
  h = conv(h, 640, 640, H / 2, 3, 2); // → 16×16
  h = conv(h, 640, 1280, H / 4, 3, 2); // → 8×8, 1280 channels (SD 1.5's mid-block width)
  h = resnet(h, 1280, 1280, H / 8, tembB);
  h = transformer(h, 1280, H / 8, true);
  h = resnet(h, 1280, 1280, H / 8, tembB);
  g.node('Identity', [conv(silu(groupNorm(h, 1280)), 1280, 4, H / 8)], ['out_sample']);
  g.output('out_sample', 'float32', ['batch', 4, 'h8', 'w8']);
  void W;
  const built = g.build({ externalDataPath: 'model.onnx_data' });
  return { model: built.model, externalData: built.externalData!, macs };
}

/**
 * Multiply-adds of one full SD 1.5 UNet pass at 64×64 latents, batch 2: about 339 GMAC per sample, the figure
 * usually quoted for SD 1.5 at 512×512 (e.g. SnapFusion, Li et al. 2023). Approximate: used only for the estimate.
 */
const SD15_FULL_GMAC_BATCH2 = 2 * 339;

async function sliceRow(): Promise<Row> {
  const ort = await loadOrtFor('wasm');
  const { model, externalData, macs } = sd15Slice();
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all', externalData: [externalData] });
  const feeds = () => {
    const sample = new Float32Array(2 * 4 * 64 * 64);
    for (let i = 0; i < sample.length; i++) sample[i] = Math.sin(i * 0.37);
    const ctx = new Float32Array(2 * 77 * 768);
    for (let i = 0; i < ctx.length; i++) ctx[i] = Math.cos(i * 0.11);
    return {
      sample: new ort.Tensor('float32', sample, [2, 4, 64, 64]),
      timestep: new ort.Tensor('int64', BigInt64Array.of(501n), [1]),
      encoder_hidden_states: new ort.Tensor('float32', ctx, [2, 77, 768]),
    };
  };
  const times: number[] = [];
  let out: Float32Array | undefined;
  for (let r = 0; r < 2; r++) {
    const f = feeds();
    const t0 = performance.now();
    const res = await session.run(f);
    times.push((performance.now() - t0) / 1000);
    out = res.out_sample!.data as Float32Array;
    console.log(`  slice run ${r}: ${times[r]!.toFixed(2)} s`);
  }
  await session.release();
  const gmac = macs / 1e9;
  const best = Math.min(...times);
  const estFull = (best * SD15_FULL_GMAC_BATCH2) / gmac;
  return {
    case: 'SD 1.5 UNet slice (real shapes, random weights)',
    provider: WASM_PROVIDER,
    shapes: 'sample [2,4,64,64], context [2,77,768]; 320/640/1280 channels, 8 heads',
    secondsPerUnetStep: best,
    secondsPerImage: null,
    steps: null,
    gmacPerStep: gmac,
    ...stats(out!),
    note: `best of 2 (first includes warm-up); ${(externalData.data.length / 2 ** 20).toFixed(0)} MiB of weights; full UNet ≈ ${SD15_FULL_GMAC_BATCH2} GMAC/step at batch 2 → est. ${estFull.toFixed(0)} s/step, ${((estFull * 20) / 60).toFixed(0)} min per 20-step image at this slice's GMAC/s`,
  };
}

const WASM_PROVIDER = 'WASM, Node, 1 thread';
const WEBGPU_PROVIDER = 'WebGPU EP, Chromium (SwiftShader)';
const ROOT = new URL('../', import.meta.url).pathname;
const SLICE_DIR = new URL('./.cache/sd15-slice/', import.meta.url).pathname;
/** Bump when sd15Slice changes, so stale files are not reused. */
const SLICE_VERSION = 1;

const argv = process.argv;
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);

/** The slice's files for the browser (467 MiB, written once; bench/.cache/ is ignored by git). */
function sliceFiles(): { gmac: number; mib: number } {
  const meta = `${SLICE_DIR}v${SLICE_VERSION}.json`;
  if (!existsSync(meta)) {
    mkdirSync(SLICE_DIR, { recursive: true });
    const { model, externalData, macs } = sd15Slice();
    writeFileSync(`${SLICE_DIR}model.onnx`, model);
    writeFileSync(`${SLICE_DIR}${externalData.path}.tmp`, externalData.data);
    renameSync(`${SLICE_DIR}${externalData.path}.tmp`, `${SLICE_DIR}${externalData.path}`);
    writeFileSync(meta, JSON.stringify({ gmac: macs / 1e9, mib: externalData.data.length / 2 ** 20 }));
  }
  return JSON.parse(readFileSync(meta, 'utf8')) as { gmac: number; mib: number };
}

/** Runs `name` from bench/diffusion_page.js in the page (by URL: Vite's runner would rewrite import() in page.evaluate functions). */
function inPage<T>(page: Page, name: string, a: unknown): Promise<T> {
  return callInPage<T>(page, '/bench/diffusion_page.js', name, a);
}

async function webgpuRows(): Promise<Row[]> {
  if (!existsSync(`${ROOT}dist/inpage.js`)) throw new Error('dist/inpage.js is missing: run `npm run build` first');
  const limit = Number(arg('--slice-limit') ?? 240);
  const port = Number(arg('--port') ?? 4194);
  const slice = sliceFiles();
  const server = await startServer(port);
  const browser = await launchChromium();
  const rows: Row[] = [];
  try {
    let page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/e2e/pages/esm.html`);
    const runs = 2;
    const t = await inPage<{ backend: string; rows: { size: number; totals: number[]; perStep: number[]; finite: boolean; nonConstant: boolean }[] }>(
      page, 'tiny', { url: '/public/models/tiny-sd/', sizes: [64, 128], runs });
    if (t.backend !== 'webgpu') throw new Error(`asked for webgpu, got ${t.backend}`);
    for (const r of t.rows) {
      const best = r.totals.indexOf(Math.min(...r.totals));
      rows.push({
        case: `tiny export, whole pipeline, ${r.size}×${r.size}`, provider: WEBGPU_PROVIDER,
        shapes: `sample [2,4,${r.size / 8},${r.size / 8}], context [2,77,32]`,
        secondsPerUnetStep: r.perStep[best]!, secondsPerImage: r.totals[best]!, steps: 20, gmacPerStep: null,
        finite: r.finite, nonConstant: r.nonConstant,
        note: `best of ${runs} after a 2-step warm-up (public/models/tiny-sd, the same export); loadDiffusion({ backend: 'webgpu', worker: false }); per step = UNet batch 2 + guidance + Euler step`,
      });
      console.log(`  webgpu tiny ${r.size}: ${r.perStep[best]!.toFixed(4)} s/step, ${r.totals[best]!.toFixed(3)} s/image`);
    }
    await page.close();

    // The slice, in a page of its own that is abandoned at the time limit.
    page = await browser.newPage();
    const logs: string[] = [];
    // A WebGPU device error (e.g. a buffer the adapter cannot allocate) leaves session.run pending: stop there.
    let deviceError: { message: string; atSeconds: number } | undefined;
    let onDeviceError: () => void = () => {};
    const t0 = performance.now();
    page.on('console', (m) => {
      const text = m.text();
      logs.push(text);
      if (text.startsWith('slice ')) console.log(`  [page] ${text}`);
      const e = /WebGPU device error\(\d+\): (.*)/.exec(text);
      if (e && !deviceError) {
        deviceError = { message: e[1]!.trim(), atSeconds: (performance.now() - t0) / 1000 };
        console.log(`  [page] ${text}`);
        onDeviceError();
      }
    });
    await page.goto(`http://127.0.0.1:${port}/e2e/pages/esm.html`);
    const limits = await page.evaluate(async () => {
      const a = await navigator.gpu.requestAdapter();
      return { maxBufferSize: a!.limits.maxBufferSize, maxStorageBufferBindingSize: a!.limits.maxStorageBufferBindingSize };
    });
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      inPage<{ createSeconds: number; times: number[]; finite: boolean; nonConstant: boolean }>(page, 'slice', { dir: '/bench/.cache/sd15-slice/', runs: 2 }),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), limit * 1000))),
      new Promise<null>((resolve) => (onDeviceError = () => setTimeout(() => resolve(null), 2000))),
    ]);
    clearTimeout(timer);
    const elapsed = (performance.now() - t0) / 1000;
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    const adapterLimits = `adapter limits: maxBufferSize ${mib(limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(limits.maxStorageBufferBindingSize)}`;
    const base = {
      case: 'SD 1.5 UNet slice (real shapes, random weights)', provider: WEBGPU_PROVIDER,
      shapes: 'sample [2,4,64,64], context [2,77,768]; 320/640/1280 channels, 8 heads', secondsPerImage: null, steps: null, gmacPerStep: slice.gmac,
    };
    if (done) {
      const best = Math.min(...done.times);
      const estFull = (best * SD15_FULL_GMAC_BATCH2) / slice.gmac;
      rows.push({
        ...base, secondsPerUnetStep: best, finite: done.finite, nonConstant: done.nonConstant,
        note: `best of ${done.times.length} (${done.times.map((x) => x.toFixed(1)).join(', ')} s; the first includes shader compilation); session created in ${done.createSeconds.toFixed(1)} s; est. full UNet ${estFull.toFixed(0)} s/step at this slice's GMAC/s`,
      });
    } else {
      // Not finished within the limit: what it measured by then (session creation, any finished runs).
      const runTimes = logs.map((l) => /^slice run \d+: ([\d.]+) s$/.exec(l)).filter((m) => m !== null).map((m) => Number(m![1]));
      const created = logs.map((l) => /^slice session created in ([\d.]+) s$/.exec(l)).find((m) => m !== null);
      rows.push({
        ...base, secondsPerUnetStep: runTimes.length ? Math.min(...runTimes) : Number.NaN, finite: runTimes.length > 0, nonConstant: runTimes.length > 0, partial: true,
        note: deviceError
          ? `**did not run**: ${created ? `session created in ${Number(created[1]).toFixed(1)} s; ` : ''}${runTimes.length} run(s) finished; then, ${deviceError.atSeconds.toFixed(0)} s after the page opened, WebGPU device error "${deviceError.message}" and session.run never settled (stopped at ${elapsed.toFixed(0)} s). ` +
            `The slice's 8-head self-attention over 4096 tokens materializes its scores, 2×8×4096×4096 f32 = ${mib(2 * 8 * 4096 * 4096 * 4)} in one tensor, the likely allocation that failed (${adapterLimits}); an SD export for the WebGPU EP needs fused attention (e.g. com.microsoft MultiHeadAttention) at this resolution`
          : runTimes.length
          ? `cut off at ${limit} s after ${runTimes.length} run(s) (${runTimes.map((x) => x.toFixed(1)).join(', ')} s; the first includes shader compilation); output checked on the finished run; ${adapterLimits}`
          : `**not finished**: cut off at the ${limit} s limit (${elapsed.toFixed(0)} s elapsed) ${created ? `after the session was created in ${Number(created[1]).toFixed(1)} s, during the first run` : 'before the session was created'}: one step takes > ${(limit - (created ? Number(created[1]) : 0)).toFixed(0)} s here; no output to check`,
      });
    }
    await page.close();
  } finally {
    await browser.close();
    server.kill();
  }
  return rows;
}

export async function main(): Promise<void> {
  const loadBefore = loadavg();
  const rows: Row[] = [];
  if (!argv.includes('--no-wasm')) {
    console.log('tiny export (WASM) …');
    rows.push(...(await tinyRows()));
    for (const r of rows) console.log(`  ${r.case}: ${r.secondsPerUnetStep.toFixed(4)} s/step, ${r.secondsPerImage?.toFixed(3)} s/image`);
    console.log('SD 1.5 UNet slice (WASM) …');
    rows.push(await sliceRow());
  }
  if (!argv.includes('--no-webgpu')) {
    console.log('WebGPU EP in Chromium …');
    rows.push(...(await webgpuRows()));
  }
  const loadAfter = loadavg();
  // A row cut off by the time limit with no finished run has no output: reported as such, not as a failure.
  const bad = rows.filter((r) => !r.partial && (!r.finite || !r.nonConstant));
  const env = {
    node: process.version, providers: [WASM_PROVIDER, WEBGPU_PROVIDER], cpus: availableParallelism(), date: new Date().toISOString(),
    load: { before: loadBefore, after: loadAfter },
  };
  writeFileSync(new URL('./results/diffusion.json', import.meta.url), JSON.stringify({ env, rows }, null, 2));
  const fmt = (v: number | null, d: number) => (v === null ? '—' : Number.isNaN(v) ? 'not finished' : v.toFixed(d));
  const yes = (r: Row, v: boolean) => (r.partial && !v ? '—' : v ? 'yes' : 'NO');
  const md = [
    '# Stable Diffusion benchmark (onnxruntime-web: WASM in Node, WebGPU in Chromium)',
    '',
    `Node ${env.node}, ${env.cpus} shared CPU cores (load average ${loadBefore[0]!.toFixed(1)} at the start, ${loadAfter[0]!.toFixed(1)} at the end), ${env.date}. Written by \`npm run bench:diffusion\` (bench/diffusion.ts).`,
    `WASM rows: onnxruntime-web's WASM EP in Node, 1 thread (as a page that is not cross-origin isolated gets). WebGPU rows: onnxruntime-web's WebGPU EP in Debian's Chromium (playwright.config.ts's flags) on SwiftShader — a software Vulkan on the same CPU cores, so these rows time a CPU emulation of a GPU: absolute figures say nothing about a real GPU, and the two providers are compared here only as ratios within this run.`,
    '',
    '| case | provider | shapes | s / UNet step | s / image | steps | GMAC / step | output finite | non-constant | note |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.case} | ${r.provider} | ${r.shapes} | ${fmt(r.secondsPerUnetStep, 4)} | ${fmt(r.secondsPerImage, 3)} | ${r.steps ?? '—'} | ${fmt(r.gmacPerStep, 1)} | ${yes(r, r.finite)} | ${yes(r, r.nonConstant)} | ${r.note} |`),
    '',
    'Not measured: the full 860M-parameter SD 1.5 UNet (3.4 GB fp32 weights; on this machine one step would take',
    'minutes on 2 shared cores, so the real-shape slice above stands in, with its multiply-adds counted so the full',
    'step can be estimated). The WebGPU EP\'s correctness (same image as the Node reference) is covered by e2e/diffusion.spec.ts.',
    '',
  ].join('\n');
  writeFileSync(new URL('./results/diffusion.md', import.meta.url), md);
  console.log(md);
  if (bad.length) throw new Error(`rows with non-finite or constant output: ${bad.map((r) => `${r.case} (${r.provider})`).join(', ')}`);
}
