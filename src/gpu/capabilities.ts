/** What an adapter/device can do, in the terms inpage's kernels and allocator care about. */
export interface GpuCapabilities {
  adapter: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    /** A software adapter such as SwiftShader: correct, but slower than WASM for LLM decode. */
    isFallbackAdapter: boolean;
  };
  features: {
    shaderF16: boolean;
    subgroups: boolean;
    timestampQuery: boolean;
  };
  subgroupMinSize: number | undefined;
  subgroupMaxSize: number | undefined;
  limits: {
    maxStorageBufferBindingSize: number;
    maxBufferSize: number;
    maxComputeWorkgroupStorageSize: number;
    maxComputeInvocationsPerWorkgroup: number;
    maxComputeWorkgroupSizeX: number;
    maxComputeWorkgroupsPerDimension: number;
    maxStorageBuffersPerShaderStage: number;
    minStorageBufferOffsetAlignment: number;
    minUniformBufferOffsetAlignment: number;
  };
}

/** Limits we ask the device for at the adapter's maximum: weights need big buffers and big workgroups. */
export const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
] as const;

export function describeCapabilities(adapter: GPUAdapter, device: GPUDevice): GpuCapabilities {
  // adapter.info is the current API; older implementations only had requestAdapterInfo().
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo }).info;
  const sg = info as (GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number }) | undefined;
  const l = device.limits;
  return {
    adapter: {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
      isFallbackAdapter:
        (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter ??
        (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter ??
        /swiftshader/i.test(`${info?.vendor} ${info?.architecture} ${info?.description}`),
    },
    features: {
      shaderF16: device.features.has('shader-f16'),
      subgroups: device.features.has('subgroups'),
      timestampQuery: device.features.has('timestamp-query'),
    },
    subgroupMinSize: sg?.subgroupMinSize,
    subgroupMaxSize: sg?.subgroupMaxSize,
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
    },
  };
}
