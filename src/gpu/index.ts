export { acquireGpu, deviceRequestFor, Gpu, type AcquireGpuOptions, type DeviceLostInfo, type RequestedDevice } from './device';
export type { GpuCapabilities } from './capabilities';
export { BufferAllocator, RowBuffer, RowUploader, roundUp, writeBytes, type Shard } from './allocator';
export { PipelineCache, preprocess, type Kernel, type Precision, type VariantOptions } from './pipelines';
export { Recorder, Params, grid, readBuffer, readFloat32, type Binding } from './recorder';
export { Uniforms, uniforms, type UniformType } from './uniforms';
export { createActivations, uploadActivations, writeActivations, readActivations, bytesPerActivation } from './activations';
export { f16BitsToFloat, floatToF16Bits, toF16Array, fromF16Array } from './f16';
