// The demo's kernel benchmark panel: the same cases and loop as `npm run bench:kernels` (bench/), run on
// this browser's GPU, each checked against a CPU reference, so the numbers compare with bench/results.
import { copyRoofline, runCase } from '../bench/harness';
import type { BenchCase } from '../bench/types';
import type { Gpu } from '../src/index';
import { $, el } from './format';

const caseModules = import.meta.glob<{ cases: BenchCase[] }>('../bench/cases/*.ts', { eager: true });

export function setupKernels(gpu: Gpu | undefined): void {
  const button = $<HTMLButtonElement>('bench-run');
  if (!gpu) {
    button.disabled = true;
    return;
  }
  button.addEventListener('click', () => void benchmarks(gpu));
}

async function benchmarks(gpu: Gpu): Promise<void> {
  const button = $<HTMLButtonElement>('bench-run');
  const status = $('bench-status');
  const body = $('bench-table').querySelector('tbody')!;
  button.disabled = true;
  body.replaceChildren();
  status.className = '';
  try {
    const filter = $<HTMLInputElement>('bench-filter').value.trim();
    const cases = Object.values(caseModules).flatMap((m) => m.cases).filter((c) => c.name.includes(filter));
    status.textContent = 'Measuring the copy roofline…';
    const copy = await copyRoofline(gpu, 8 * 2 ** 20);
    for (const [i, c] of cases.entries()) {
      status.textContent = `Copy roofline ${copy.toFixed(2)} GB/s. Running ${c.name} (${i + 1}/${cases.length})…`;
      const r = await runCase(gpu, c, copy, 0.2);
      const tr = el('tr');
      const cells = [r.name, r.msPerRun.toFixed(3), r.gbPerSec.toFixed(2), `${(r.ofCopy * 100).toFixed(0)}%`, r.gflops.toFixed(2), r.check.ok ? 'ok' : 'WRONG'];
      tr.replaceChildren(...cells.map((text, j) => el('td', j === 5 ? (r.check.ok ? 'ok' : 'bad') : undefined, text)));
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
