/**
 * The benchmark loop, shared by the Node CLI (bench/kernels.ts) and the demo's benchmark panel, so the
 * browser and Node measure the same way. Browser-safe: no Node imports.
 */
import { Recorder, type Gpu } from '../src/gpu';
import { copyWords } from '../src/ops/copy';
import type { BenchCase, BenchCheck } from './types';

export interface BenchRow {
  name: string;
  family: string;
  msPerRun: number;
  gbPerSec: number;
  /** Read bandwidth as a fraction of the copy roofline. */
  ofCopy: number;
  gflops: number;
  check: BenchCheck;
}

/** Seconds per run: batches of runs per submit, doubling until a batch is long enough, for ≥ minSeconds. */
export async function timeRuns(gpu: Gpu, run: (rec: Recorder) => void, minSeconds = 0.5): Promise<number> {
  const once = async (n: number) => {
    const rec = new Recorder(gpu);
    for (let i = 0; i < n; i++) run(rec);
    const t0 = performance.now();
    rec.submit();
    await gpu.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / 1000;
  };
  await once(1); // warm-up: pipeline compilation, first touch of buffers
  let batch = 1;
  let elapsed = await once(batch);
  while (elapsed < minSeconds / 4 && batch < 256) {
    batch *= 2;
    elapsed = await once(batch);
  }
  let total = elapsed;
  let runs = batch;
  while (total < minSeconds) {
    total += await once(batch);
    runs += batch;
  }
  return total / runs;
}

/** Copy bandwidth in GB/s, counting bytes read plus bytes written as STREAM's copy does. */
export async function copyRoofline(gpu: Gpu, bytes = 32 * 1024 * 1024): Promise<number> {
  const a = gpu.allocator.createBuffer(bytes, 'copy src');
  const b = gpu.allocator.createBuffer(bytes, 'copy dst');
  const s = await timeRuns(gpu, (rec) => copyWords(rec, a, b, bytes), 1);
  gpu.allocator.release(a);
  gpu.allocator.release(b);
  return (2 * bytes) / s / 1e9;
}

export async function runCase(gpu: Gpu, c: BenchCase, copyGBs: number, minSeconds = 0.5): Promise<BenchRow> {
  const inst = await c.setup(gpu);
  try {
    const s = await timeRuns(gpu, (rec) => inst.run(rec), minSeconds);
    const check = await inst.check();
    const gbPerSec = inst.bytesRead / s / 1e9;
    return { name: c.name, family: c.family, msPerRun: s * 1e3, gbPerSec, ofCopy: gbPerSec / copyGBs, gflops: inst.flops / s / 1e9, check };
  } finally {
    inst.destroy();
  }
}

export function formatRow(r: BenchRow): string {
  const c = r.check;
  return (
    `${r.name.padEnd(40)} ${r.msPerRun.toFixed(3).padStart(9)} ms  ${r.gbPerSec.toFixed(2).padStart(7)} GB/s  ` +
    `${(r.ofCopy * 100).toFixed(0).padStart(4)}% of copy  ${r.gflops.toFixed(2).padStart(7)} GFLOP/s  ` +
    `${c.ok ? 'ok' : 'WRONG'} (max err ${c.maxError.toExponential(2)} ≤ ${c.tolerance.toExponential(1)}; ` +
    `checksum ${c.checksum.toPrecision(8)} vs ${c.referenceChecksum.toPrecision(8)})`
  );
}
