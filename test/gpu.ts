/**
 * Test harness: one WebGPU device per test worker, from the `webgpu` package (Dawn) in Node. Tests that
 * need a different configuration (forced f32, tiny binding limit) call `makeGpu` with options.
 */
import { create, globals } from 'webgpu';
import { acquireGpu, type AcquireGpuOptions, type Gpu } from '../src/gpu';

Object.assign(globalThis, globals);

let nodeGpu: GPU | undefined;
let shared: Promise<Gpu> | undefined;

export function nodeGPU(): GPU {
  nodeGpu ??= create([]);
  return nodeGpu;
}

export function makeGpu(options: AcquireGpuOptions = {}): Promise<Gpu> {
  return acquireGpu({ gpu: nodeGPU(), ...options });
}

/** The worker's shared device (default options: precision 'auto'). */
export function testGpu(): Promise<Gpu> {
  shared ??= makeGpu();
  return shared;
}

/** Precisions this device can run: f32 always, f16 only where shader-f16 exists. */
export function precisionsOf(gpu: Gpu): ('f32' | 'f16')[] {
  return gpu.caps.features.shaderF16 ? ['f32', 'f16'] : ['f32'];
}
