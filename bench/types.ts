import type { Gpu, Recorder } from '../src/gpu';

/**
 * One kernel micro-benchmark. `setup` builds inputs at a realistic shape; `run` records one execution
 * (the harness submits and waits, many times); `check` reads the output of the last run back and compares
 * it with a CPU reference computed in the case itself, so a kernel that writes nothing cannot look fast.
 */
export interface BenchCase {
  /** e.g. 'matvec q4_0 896x4864' */
  name: string;
  /** Kernel family, for grouping in the report: 'matvec', 'matmul', 'attention', 'norm', ... */
  family: string;
  setup(gpu: Gpu): Promise<BenchInstance>;
}

export interface BenchInstance {
  /** Bytes the kernel must read per run: packed weight bytes for matvec/matmul, K+V bytes for attention. */
  bytesRead: number;
  /** Floating-point operations per run (2 per multiply-add), for GFLOP/s; 0 if not meaningful. */
  flops: number;
  run(rec: Recorder): void;
  check(): Promise<BenchCheck>;
  destroy(): void;
}

export interface BenchCheck {
  ok: boolean;
  /** Largest error against the CPU reference, and the tolerance it was held to. */
  maxError: number;
  tolerance: number;
  /** Sum of the output (and of the reference), printed so a reader sees the numbers are real. */
  checksum: number;
  referenceChecksum: number;
}
