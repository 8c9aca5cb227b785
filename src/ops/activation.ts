import addSource from '../../kernels/add.wgsl?raw';
import siluMulSource from '../../kernels/silu_mul.wgsl?raw';
import { grid, uniforms, type Kernel, type Recorder } from '../gpu';
import { needActivations, needCount, needDistinct } from './checks';

const elementwiseUniforms = uniforms({ count: 'u32' });
const siluMulKernel: Kernel<'count'> = { name: 'silu_mul', source: siluMulSource, uniforms: elementwiseUniforms };
const addKernel: Kernel<'count'> = { name: 'add', source: addSource, uniforms: elementwiseUniforms };
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
  kernel: Kernel<'count'>,
  /** Named inputs, in binding order (bindings 1, 2, …; out follows). */
  inputs: [string, GPUBuffer][],
  out: GPUBuffer,
  count: number,
): void {
  needCount(what, 'count', count);
  for (const [name, buffer] of [...inputs, ['out', out] as [string, GPUBuffer]]) needActivations(rec.gpu, what, name, buffer, count);
  needDistinct(what, ['out', out], inputs);
  const pipeline = rec.gpu.pipelines.get(kernel, { precision: rec.gpu.precision, constants: { WG } });
  rec.dispatch(pipeline, kernel.uniforms.pack({ count }), [...inputs.map(([, buffer]) => buffer), out], grid(rec.gpu, Math.ceil(count / WG)));
}
