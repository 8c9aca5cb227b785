import addSource from '../../kernels/add.wgsl?raw';
import siluMulSource from '../../kernels/silu_mul.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, grid, params, type Recorder } from '../gpu';

const siluMulKernel = { name: 'silu_mul', source: siluMulSource };
const addKernel = { name: 'add', source: addSource };
const WG = 256;

export interface SiluMulArgs {
  /** The gate projection's output [tokens, dim]. */
  gate: GPUBuffer;
  /** The up projection's output [tokens, dim]. */
  up: GPUBuffer;
  /** [tokens, dim]; a buffer distinct from gate and up. */
  out: GPUBuffer;
  /** tokens × dim. */
  count: number;
}

/** out = silu(gate) · up, elementwise (SwiGLU). */
export function siluMul(rec: Recorder, { gate, up, out, count }: SiluMulArgs): void {
  elementwise(rec, 'siluMul', siluMulKernel, [['gate', gate], ['up', up]], out, count);
}

export interface AddArgs {
  a: GPUBuffer;
  b: GPUBuffer;
  /** A buffer distinct from a and b. */
  out: GPUBuffer;
  count: number;
}

/** out = a + b, elementwise (the residual connection). */
export function add(rec: Recorder, { a, b, out, count }: AddArgs): void {
  elementwise(rec, 'add', addKernel, [['a', a], ['b', b]], out, count);
}

function elementwise(
  rec: Recorder,
  what: string,
  kernel: { name: string; source: string },
  /** Named inputs, in binding order (bindings 1, 2, …; out follows). */
  inputs: [string, GPUBuffer][],
  out: GPUBuffer,
  count: number,
): void {
  if (!Number.isInteger(count) || count <= 0) throw new InvalidArgumentError(`${what}: count ${count} must be a positive integer`);
  const bytes = count * bytesPerActivation(rec.gpu);
  for (const [name, buffer] of [...inputs, ['out', out] as [string, GPUBuffer]]) {
    if (buffer.size < bytes) throw new InvalidArgumentError(`${what}: ${name} holds ${buffer.size} bytes, ${count} activations need ${bytes}`);
  }
  // WebGPU rejects a buffer bound both read-only and writable in one dispatch; say so before it does.
  for (const [name, buffer] of inputs) {
    if (buffer === out) throw new InvalidArgumentError(`${what}: out must be a different buffer from ${name}`);
  }
  const pipeline = rec.gpu.pipelines.get(kernel, { precision: rec.gpu.precision, constants: { WG } });
  rec.dispatch(pipeline, params().u32(count), [...inputs.map(([, buffer]) => buffer), out], grid(rec.gpu, Math.ceil(count / WG)));
}
