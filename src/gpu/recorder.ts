import { InvalidArgumentError } from '../errors';
import type { Gpu } from './device';

/**
 * The values of a kernel's uniform struct (@binding(0)) for one dispatch: u32, i32 and f32 fields in order.
 * Made by the kernel's `Uniforms.pack` (./uniforms.ts), which declares the struct once for both sides.
 */
export class Params {
  private readonly words: number[] = [];
  private readonly kinds: ('u' | 'i' | 'f')[] = [];
  u32(v: number): this {
    return this.push('u', v);
  }
  i32(v: number): this {
    return this.push('i', v);
  }
  f32(v: number): this {
    return this.push('f', v);
  }
  get byteLength(): number {
    return Math.max(16, Math.ceil(this.words.length / 4) * 16);
  }
  writeTo(view: DataView, offset: number): void {
    this.words.forEach((v, i) => {
      const at = offset + 4 * i;
      const k = this.kinds[i];
      if (k === 'f') view.setFloat32(at, v, true);
      else if (k === 'i') view.setInt32(at, v, true);
      else view.setUint32(at, v, true);
    });
  }
  private push(kind: 'u' | 'i' | 'f', v: number): this {
    if (!Number.isFinite(v)) throw new InvalidArgumentError(`uniform value ${v} is not finite`);
    this.words.push(v);
    this.kinds.push(kind);
    return this;
  }
}

/** A storage binding: a whole buffer, or a byte range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

const UNIFORM_SLOT = 256; // minUniformBufferOffsetAlignment is at most 256 on every adapter
const SLOTS_PER_BATCH = 512;

/**
 * Records dispatches and copies into one command buffer. Uniform params of all dispatches are staged in
 * one CPU array and uploaded with a single writeBuffer at submit, because a writeBuffer per dispatch is
 * the dominant cost of a decode step on small models. Uniform buffers are pooled and reused once the
 * GPU has finished with them.
 */
export class Recorder {
  private encoder: GPUCommandEncoder;
  private pass: GPUComputePassEncoder | undefined;
  /**
   * Taken from the pool at the first dispatch after construction or a submit, not before: a recorder that
   * is dropped after its last submit (one per decode step) must not keep a buffer out of the pool.
   */
  private uniform: GPUBuffer | undefined;
  private staging = new ArrayBuffer(UNIFORM_SLOT * SLOTS_PER_BATCH);
  private slots = 0;
  dispatches = 0;

  constructor(readonly gpu: Gpu) {
    gpu.assertAlive();
    this.encoder = gpu.device.createCommandEncoder({ label: 'inpage' });
  }

  /**
   * Appends one dispatch: binding 0 is the kernel's uniform params, bindings 1.. are `buffers` in order.
   * `workgroups` beyond maxComputeWorkgroupsPerDimension in x must be folded into y by the caller
   * (see `grid()`).
   */
  dispatch(pipeline: GPUComputePipeline, p: Params, buffers: Binding[], workgroups: [number, number?, number?]): void {
    if (this.slots === SLOTS_PER_BATCH) this.flush();
    this.uniform ??= takeUniform(this.gpu);
    const offset = this.slots * UNIFORM_SLOT;
    p.writeTo(new DataView(this.staging), offset);
    this.slots++;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform, offset, size: p.byteLength } }];
    buffers.forEach((b, i) => {
      // GPUBuffer has no `buffer` property; a {buffer, offset, size} range does.
      entries.push({ binding: i + 1, resource: 'buffer' in b ? b : { buffer: b } });
    });
    const bindGroup = this.gpu.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.dispatches++;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.endPass();
    this.encoder.copyBufferToBuffer(src, srcOffset, dst, dstOffset, size);
  }

  /** The underlying encoder, for callers that add their own commands (timestamp queries, readback copies). */
  commandEncoder(): GPUCommandEncoder {
    this.endPass();
    return this.encoder;
  }

  /** Submits everything recorded so far; the recorder stays usable for more work. */
  submit(): void {
    this.flush();
  }

  private flush(): void {
    this.gpu.assertAlive();
    this.endPass();
    const used = this.slots * UNIFORM_SLOT;
    const uniform = this.uniform;
    this.gpu.scoped(() => {
      if (uniform && used > 0) this.gpu.device.queue.writeBuffer(uniform, 0, this.staging, 0, used);
      this.gpu.device.queue.submit([this.encoder.finish()]);
    });
    if (uniform) this.gpu.device.queue.onSubmittedWorkDone().then(() => returnUniform(this.gpu, uniform), () => {});
    this.encoder = this.gpu.device.createCommandEncoder({ label: 'inpage' });
    this.uniform = undefined;
    this.slots = 0;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }
}

const uniformPools = new WeakMap<Gpu, GPUBuffer[]>();
function takeUniform(gpu: Gpu): GPUBuffer {
  const pool = uniformPools.get(gpu);
  return pool?.pop() ?? gpu.allocator.createUniform(UNIFORM_SLOT * SLOTS_PER_BATCH, 'inpage uniforms');
}
function returnUniform(gpu: Gpu, buffer: GPUBuffer): void {
  let pool = uniformPools.get(gpu);
  if (!pool) uniformPools.set(gpu, (pool = []));
  pool.push(buffer);
}

/**
 * Splits `count` workgroups into an (x, y) grid within maxComputeWorkgroupsPerDimension. Kernels recover
 * the linear index as `wid.x + wid.y * nwg.x` and return when it is ≥ count.
 */
export function grid(gpu: Gpu, count: number): [number, number] {
  const max = gpu.caps.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [Math.max(1, count), 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

/** Copies `size` bytes of `buffer` back to the CPU, after checking for GPU errors from earlier work. */
export async function readBuffer(gpu: Gpu, buffer: GPUBuffer, offset = 0, size = buffer.size - offset): Promise<ArrayBuffer> {
  gpu.assertAlive();
  const aligned = Math.ceil(size / 4) * 4;
  const staging = gpu.device.createBuffer({ size: aligned, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'readback' });
  const encoder = gpu.device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, offset, staging, 0, aligned);
  gpu.scoped(() => gpu.device.queue.submit([encoder.finish()]));
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    gpu.assertAlive();
    throw e;
  }
  const out = staging.getMappedRange().slice(0, size);
  staging.unmap();
  staging.destroy();
  await gpu.checkErrors();
  return out;
}

export async function readFloat32(gpu: Gpu, buffer: GPUBuffer, count: number, offsetElements = 0): Promise<Float32Array> {
  return new Float32Array(await readBuffer(gpu, buffer, offsetElements * 4, count * 4));
}
