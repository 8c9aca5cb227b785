import type { Gpu } from './device';
import { fromF16Array, toF16Array } from './f16';
import { readBuffer } from './recorder';

/**
 * Activation buffers are stored in the device's precision (f16 where shader-f16 exists, else f32). These
 * helpers create, fill and read them as Float32Array so callers and tests never branch on precision.
 */
export function bytesPerActivation(gpu: Gpu): number {
  return gpu.precision === 'f16' ? 2 : 4;
}

export function createActivations(gpu: Gpu, count: number, label: string): GPUBuffer {
  return gpu.allocator.createBuffer(count * bytesPerActivation(gpu), label);
}

export function uploadActivations(gpu: Gpu, values: Float32Array, label: string): GPUBuffer {
  return gpu.allocator.createBufferFrom(gpu.precision === 'f16' ? toF16Array(values) : values, label);
}

export function writeActivations(gpu: Gpu, buffer: GPUBuffer, values: Float32Array, offsetElements = 0): void {
  const data = gpu.precision === 'f16' ? toF16Array(values) : values;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const padded = bytes.byteLength % 4 ? new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4) : bytes;
  if (padded !== bytes) padded.set(bytes);
  gpu.device.queue.writeBuffer(buffer, offsetElements * bytesPerActivation(gpu), padded as Uint8Array<ArrayBuffer>);
}

export async function readActivations(gpu: Gpu, buffer: GPUBuffer, count: number, offsetElements = 0): Promise<Float32Array> {
  const bpe = bytesPerActivation(gpu);
  const bytes = await readBuffer(gpu, buffer, offsetElements * bpe, count * bpe);
  return gpu.precision === 'f16' ? fromF16Array(new Uint16Array(bytes)) : new Float32Array(bytes);
}
