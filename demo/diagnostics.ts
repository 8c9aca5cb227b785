// The demo's diagnostics panel: what this browser's WebGPU adapter is and can do (features, limits, the
// activation precision inpage picks), and, once a model is loaded, which backend and runtime it runs on and why.
import { acquireGpu, type BackendRequest, type Gpu, type LanguageModel } from '../src/index';
import { $, bytes, showList } from './format';

/** Fills the GPU part of the panel; returns the page's Gpu (for the kernel benchmarks), or undefined without WebGPU. */
export async function showGpu(): Promise<Gpu | undefined> {
  const status = $('diag-status');
  try {
    const gpu = await acquireGpu();
    const c = gpu.caps;
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
    status.textContent = c.adapter.isFallbackAdapter
      ? "WebGPU works here, on a software adapter: correct but slow, so backend 'auto' runs text models on WebAssembly (the CPU) instead."
      : "WebGPU works here, on a hardware adapter: backend 'auto' runs GGUF models on inpage's own kernels.";
    status.className = c.adapter.isFallbackAdapter ? 'warn' : 'ok';
    showList($('diag-list'), [
      ['adapter', [c.adapter.vendor, c.adapter.architecture, c.adapter.description].filter(Boolean).join(' · ') || 'unknown'],
      ['software adapter', String(c.adapter.isFallbackAdapter)],
      ['shader-f16', String(c.features.shaderF16)],
      ['subgroups', c.features.subgroups ? `yes (${c.subgroupMinSize ?? '?'}–${c.subgroupMaxSize ?? '?'} lanes)` : 'no'],
      ['timestamp-query', String(c.features.timestampQuery)],
      ['activation precision', `${gpu.precision} — ${c.features.shaderF16 ? 'shader-f16 is available' : 'no shader-f16, so the f32 path'}`],
      ['max storage binding', mib(c.limits.maxStorageBufferBindingSize)],
      ['max buffer', mib(c.limits.maxBufferSize)],
      ['workgroup storage', `${c.limits.maxComputeWorkgroupStorageSize} bytes`],
      ['invocations / workgroup', String(c.limits.maxComputeInvocationsPerWorkgroup)],
    ]);
    document.body.dataset.precision = gpu.precision;
    void showAdapterDetails();
    return gpu;
  } catch (e) {
    status.textContent = `No WebGPU: ${(e as Error).message}. Text models can still run on WebAssembly (the CPU).`;
    status.className = 'bad';
    return undefined;
  }
}

/** Every feature and limit the adapter reports, straight from navigator.gpu, for the curious. */
async function showAdapterDetails(): Promise<void> {
  const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
  if (!adapter) return;
  const limits: [string, string][] = [];
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === 'number') limits.push([key, String(v)]);
  }
  showList($('diag-adapter'), [['features', [...adapter.features].sort().join(', ') || 'none'], ...limits.sort(([a], [b]) => a.localeCompare(b))]);
}

/** Where each backend keeps the weights, in words. */
const WEIGHTS_IN: Record<LanguageModel['info']['backend'], string> = {
  webgpu: 'on the GPU',
  'ort-webgpu': 'on the GPU (onnxruntime-web)',
  wasm: 'in WebAssembly memory',
};

/**
 * The loaded model's side: backend (as asked and as chosen, with the reason llm.info gives), runtime,
 * precision and sizes, each with its reason where there is one.
 */
export function showModel(llm: LanguageModel | undefined, source?: string, requested?: BackendRequest): void {
  const list = $('diag-model');
  if (!llm) {
    showList(list, [['model', 'none loaded']]);
    delete list.dataset.backend;
    return;
  }
  const i = llm.info;
  list.dataset.backend = i.backend;
  showList(list, [
    ['model', `${i.name} (${i.architecture})`],
    ['from', source ?? ''],
    ['backend', `${i.backend} — ${i.backendReason}`],
    ['asked for', requested ?? 'auto'],
    ['runtime', `${i.runtime === 'worker' ? 'Web Worker' : 'page thread'} — ${i.runtimeReason}`],
    ['precision', i.precision],
    [i.backend === 'wasm' ? 'engine' : 'adapter', i.adapter],
    ['shape', `${i.layers} layers, d_model ${i.dModel}, ${i.heads} heads (${i.kvHeads} KV), vocabulary ${i.vocabSize}`],
    ['weights', `${bytes(i.weightBytes)} ${WEIGHTS_IN[i.backend] ?? ''} (${Object.entries(i.weightTypes).map(([t, n]) => `${n}×${t}`).join(', ')})`],
    ['KV cache', `${bytes(i.kvCacheBytes)} for ${i.contextLength} tokens of context`],
    ['chat template', i.hasChatTemplate ? 'from the file' : 'none in the file: plain "role: content" lines'],
  ]);
}
