/**
 * Kernel micro-benchmarks: `npm run bench:kernels [-- --filter REGEX]`.
 * For each case at an LLM-realistic shape: time per run, GB/s of the bytes the kernel must read, the ratio
 * to a plain copy kernel's bandwidth measured on the same adapter in the same run (the decode roofline),
 * GFLOP/s, and a comparison of the output with a CPU reference (a kernel that writes nothing fails it).
 * Results go to bench/results/kernels.md (linked from the README) and kernels.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { acquireGpu } from '../src/gpu';
import { copyRoofline, formatRow, runCase, type BenchRow } from './harness';
import type { BenchCase } from './types';

const caseModules = import.meta.glob<{ cases: BenchCase[] }>('./cases/*.ts', { eager: true });

export async function main({ gpu: injected, args }: { gpu: GPU; args: string[] }): Promise<void> {
  const filterAt = args.indexOf('--filter');
  const filter = filterAt >= 0 ? new RegExp(args[filterAt + 1] ?? '') : undefined;
  const gpu = await acquireGpu({ gpu: injected });
  const a = gpu.caps.adapter;
  const adapterName = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown adapter';
  console.log(`adapter: ${adapterName}${a.isFallbackAdapter ? ' (software)' : ''}; precision ${gpu.precision}; subgroups ${gpu.caps.features.subgroups}`);
  const copyGBs = await copyRoofline(gpu);
  console.log(`copy roofline: ${copyGBs.toFixed(2)} GB/s (read + write)\n`);

  const cases = Object.values(caseModules).flatMap((m) => m.cases).filter((c) => !filter || filter.test(c.name));
  const rows: BenchRow[] = [];
  for (const c of cases) {
    const row = await runCase(gpu, c, copyGBs);
    rows.push(row);
    console.log(formatRow(row));
  }
  gpu.destroy();
  writeResults(adapterName, a.isFallbackAdapter, gpu.precision, copyGBs, rows, filter !== undefined);
  if (rows.some((r) => !r.check.ok)) {
    console.error('\nsome kernels disagree with their CPU reference');
    process.exitCode = 1;
  }
}

function writeResults(adapter: string, software: boolean, precision: string, copyGBs: number, rows: BenchRow[], partial: boolean): void {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const name = partial ? 'kernels-partial' : 'kernels';
  const when = new Date().toISOString();
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify({ when, adapter, software, precision, copyGBs, rows }, null, 2));
  const lines = [
    `# Kernel benchmarks`,
    '',
    `Written by \`npm run bench:kernels\` on ${when}. Adapter: ${adapter}${software ? ' (software: SwiftShader on 2 CPU cores — only ratios mean anything)' : ''}; activation precision ${precision}.`,
    '',
    `Copy roofline (a plain copy kernel, bytes read + written): **${copyGBs.toFixed(2)} GB/s**. "% of copy" divides a kernel's`,
    `read bandwidth (packed weight bytes for matvec/matmul, K+V bytes for attention) by it. Every row's output was compared`,
    `with a CPU reference computed in the benchmark (max error against tolerance; checksums of output and reference).`,
    '',
    '| kernel | ms / run | GB/s read | % of copy | GFLOP/s | check | max error (tolerance) | checksum (reference) |',
    '| --- | ---: | ---: | ---: | ---: | --- | --- | --- |',
    ...rows.map((r) =>
      `| ${r.name} | ${r.msPerRun.toFixed(3)} | ${r.gbPerSec.toFixed(2)} | ${(r.ofCopy * 100).toFixed(0)}% | ${r.gflops.toFixed(2)} | ${r.check.ok ? 'ok' : '**WRONG**'} | ${r.check.maxError.toExponential(2)} (${r.check.tolerance.toExponential(1)}) | ${r.check.checksum.toPrecision(7)} (${r.check.referenceChecksum.toPrecision(7)}) |`,
    ),
    '',
  ];
  writeFileSync(new URL(`${name}.md`, dir), lines.join('\n'));
  console.log(`\nwrote bench/results/${name}.md`);
}
