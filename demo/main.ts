// The demo's diagnostics and kernel pages. It uses the SDK exactly as an app would (src/index.ts) and the
// same benchmark cases and loop as `npm run bench:kernels` (bench/), so numbers are comparable.
import { copyRoofline, runCase } from '../bench/harness';
import type { BenchCase } from '../bench/types';
import { acquireGpu, type Gpu } from '../src/index';
import { setupGeneration } from './generate';

const caseModules = import.meta.glob<{ cases: BenchCase[] }>('../bench/cases/*.ts', { eager: true });
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function show(list: HTMLElement, entries: [string, string][]): void {
  list.replaceChildren(...entries.flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    return [dt, dd];
  }));
}

async function diagnostics(): Promise<Gpu | undefined> {
  const status = $('diag-status');
  try {
    const gpu = await acquireGpu();
    const c = gpu.caps;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    status.textContent = c.adapter.isFallbackAdapter
      ? 'WebGPU works here, on a software adapter: correct but slow.'
      : 'WebGPU works here, on a hardware adapter.';
    show($('diag-list'), [
      ['adapter', [c.adapter.vendor, c.adapter.architecture, c.adapter.description].filter(Boolean).join(' · ') || 'unknown'],
      ['software adapter', String(c.adapter.isFallbackAdapter)],
      ['shader-f16', String(c.features.shaderF16)],
      ['subgroups', c.features.subgroups ? `yes (${c.subgroupMinSize ?? '?'}–${c.subgroupMaxSize ?? '?'} lanes)` : 'no'],
      ['timestamp-query', String(c.features.timestampQuery)],
      ['activation precision', `${gpu.precision} — ${c.features.shaderF16 ? 'shader-f16 is available' : 'no shader-f16, so the f32 path'}`],
      ['max storage binding', mib(c.limits.maxStorageBufferBindingSize)],
      ['max buffer', mib(c.limits.maxBufferSize)],
      ['workgroup storage', `${c.limits.maxComputeWorkgroupStorageSize} bytes`],
      ['invocations / workgroup', String(c.limits.maxComputeInvocationsPerWorkgroup)],
    ]);
    document.body.dataset.precision = gpu.precision;
    return gpu;
  } catch (e) {
    status.textContent = `No WebGPU: ${(e as Error).message}`;
    status.className = 'bad';
    return undefined;
  }
}

async function benchmarks(gpu: Gpu): Promise<void> {
  const button = $<HTMLButtonElement>('bench-run');
  const status = $('bench-status');
  const body = $('bench-table').querySelector('tbody')!;
  button.disabled = true;
  body.replaceChildren();
  try {
    const filter = $<HTMLInputElement>('bench-filter').value.trim();
    const cases = Object.values(caseModules).flatMap((m) => m.cases).filter((c) => c.name.includes(filter));
    status.textContent = 'Measuring the copy roofline…';
    const copy = await copyRoofline(gpu, 8 * 2 ** 20);
    for (const [i, c] of cases.entries()) {
      status.textContent = `Copy roofline ${copy.toFixed(2)} GB/s. Running ${c.name} (${i + 1}/${cases.length})…`;
      const r = await runCase(gpu, c, copy, 0.2);
      const tr = document.createElement('tr');
      const cells = [r.name, r.msPerRun.toFixed(3), r.gbPerSec.toFixed(2), `${(r.ofCopy * 100).toFixed(0)}%`, r.gflops.toFixed(2), r.check.ok ? 'ok' : 'WRONG'];
      tr.replaceChildren(...cells.map((text, j) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (j === 5) td.className = r.check.ok ? 'ok' : 'bad';
        return td;
      }));
      body.append(tr);
    }
    status.textContent = `Done: ${cases.length} kernels, copy roofline ${copy.toFixed(2)} GB/s.`;
  } catch (e) {
    status.textContent = `Failed: ${(e as Error).message}`;
    status.className = 'bad';
  } finally {
    button.disabled = false;
  }
}

const gpu = await diagnostics();
if (gpu) {
  $('bench-run').addEventListener('click', () => void benchmarks(gpu));
  setupGeneration();
} else {
  $<HTMLButtonElement>('bench-run').disabled = true;
  $<HTMLButtonElement>('model-load').disabled = true;
}
