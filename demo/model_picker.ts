// The demo's model picker: the built-in model (default), any GGUF URL, or a local file (drag and drop
// anywhere on the page, or the file input), and the backend to ask loadModel for (auto by default: our
// WebGPU kernels on a hardware GPU, onnxruntime-web's WASM build otherwise). Loads with loadModel (the engine
// in a Web Worker by default), showing a progress bar with bytes done / total, rate and ETA for each phase,
// the backend chosen and why, and a Cancel button.
import { loadModel, type BackendRequest, type LanguageModel, type LoadProgressEvent } from '../src/index';
import { $, bytes, duration, rate } from './format';

export interface ModelPickerHooks {
  /** Called before the current model is unloaded (stop any generation). */
  beforeUnload(): void;
  /** `requested`: the backend that was asked for ('auto' or an explicit one); llm.info.backend says what runs. */
  onLoaded(llm: LanguageModel, source: string, requested: BackendRequest): void;
  onUnloaded(): void;
  /** After every load attempt, successful or not (the cache may have changed). */
  afterLoad(): void;
}

/** Labels for the progress phases (an unknown one shows its own name). */
const PHASES: Partial<Record<string, string>> = {
  metadata: 'Reading the header',
  download: 'Downloading',
  'cache-read': 'Reading from the browser cache',
  'gpu-upload': 'Uploading to the GPU',
  'shader-compile': 'Compiling shaders',
  'warm-up': 'Warming up',
  ready: 'Ready',
};

export interface ModelPickerOptions {
  /** This browser has WebGPU (an adapter and a device): without it only 'auto' and 'wasm' can work. */
  webgpu: boolean;
}

export function setupModelPicker(hooks: ModelPickerHooks, options: ModelPickerOptions): { load(): Promise<void> } {
  const pick = $<HTMLSelectElement>('model-pick');
  const backendPick = $<HTMLSelectElement>('model-backend');
  const urlInput = $<HTMLInputElement>('model-url');
  const drop = $('model-drop');
  const dropText = $('model-drop-text');
  const fileInput = $<HTMLInputElement>('model-file');
  const loadButton = $<HTMLButtonElement>('model-load');
  const cancel = $<HTMLButtonElement>('model-cancel');
  const bar = $<HTMLProgressElement>('model-progress');
  const barText = $('model-progress-text');
  const status = $('model-status');

  let llm: LanguageModel | undefined;
  let file: File | undefined;
  let loading: AbortController | undefined;

  if (!options.webgpu) {
    for (const o of backendPick.options) if (o.value === 'webgpu' || o.value === 'ort-webgpu') o.disabled = true;
    $('model-backend-note').textContent = 'No WebGPU here: models run on WebAssembly (the CPU).';
  }

  const showSource = () => {
    urlInput.hidden = pick.value !== 'url';
    drop.hidden = pick.value !== 'file';
    loadButton.disabled = pick.value === 'file' && !file;
  };
  pick.addEventListener('change', showSource);

  const chooseFile = (f: File | undefined) => {
    if (!f) return;
    file = f;
    pick.value = 'file';
    dropText.textContent = `${f.name} (${bytes(f.size)}) —`;
    showSource();
    void load();
  };
  fileInput.addEventListener('change', () => chooseFile(fileInput.files?.[0]));
  // A file dropped anywhere on the page loads it; the drop zone lights up while something is dragged over.
  const dragging = (on: boolean) => document.body.classList.toggle('dragging', on);
  document.addEventListener('dragover', (e) => {
    if (!e.dataTransfer?.types.includes('Files')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    dragging(true);
  });
  document.addEventListener('dragleave', (e) => {
    if (e.relatedTarget === null) dragging(false);
  });
  document.addEventListener('drop', (e) => {
    const f = e.dataTransfer?.files[0];
    dragging(false);
    if (!f) return;
    e.preventDefault();
    chooseFile(f);
  });

  const progress = (e: LoadProgressEvent) => {
    const total = e.totalBytes;
    bar.value = total ? Math.min(1, e.loadedBytes / total) : 0;
    // The runtime announces its backend choice as a progress event ("backend wasm: software adapter …").
    if (/^backend /.test(e.message)) document.body.dataset.loadBackend = e.message;
    const parts = [PHASES[e.phase] ?? e.phase];
    if (total && e.phase !== 'ready') parts.push(`${bytes(e.loadedBytes)} / ${bytes(total)}`);
    if (/^backend /.test(e.message)) parts.push(e.message);
    if (e.rate) parts.push(rate(e.rate));
    if (e.etaSeconds !== undefined && e.phase !== 'ready') parts.push(`${duration(e.etaSeconds)} left`);
    barText.textContent = parts.join(' · ');
    barText.dataset.phase = e.phase;
    document.body.dataset.loadPhases = [...new Set([...(document.body.dataset.loadPhases ?? '').split(' ').filter(Boolean), e.phase])].join(' ');
  };

  async function load(): Promise<void> {
    const useFile = pick.value === 'file';
    if (useFile && !file) return;
    const url = pick.value === 'url' ? urlInput.value.trim() : useFile ? '' : new URL(pick.value, document.baseURI).href;
    if (pick.value === 'url' && !url) {
      status.textContent = 'Type the URL of a .gguf file first.';
      return;
    }
    const source = useFile ? file!.name : url;
    const backend = backendPick.value as BackendRequest;
    loading?.abort();
    const ctl = (loading = new AbortController());
    document.body.dataset.model = 'loading'; // at once, before the old model is unloaded
    if (llm) {
      hooks.beforeUnload();
      const old = llm;
      llm = undefined;
      hooks.onUnloaded();
      await old.unload();
    }
    document.body.dataset.loadPhases = '';
    delete document.body.dataset.loadBackend;
    loadButton.disabled = true;
    cancel.hidden = false;
    bar.value = 0;
    barText.textContent = '';
    status.textContent = `Loading ${source} (backend ${backend})…`;
    status.className = '';
    const t0 = performance.now();
    // Progress messages cross the worker boundary one by one; one may arrive after the load has resolved
    // (the cache reports its last bytes late), so events of a finished or replaced load are ignored.
    let settled = false;
    try {
      const loaded = await loadModel({
        ...(useFile ? { file } : { url }),
        // Base models (the built-in one) have no chat template: format chat turns as "role: content" lines.
        chatFallback: 'plain',
        backend,
        // ?threads=N forces onnxruntime-web's WASM thread count (its default takes half the cores, up to 4,
        // on a cross-origin-isolated page like this one): for checking the threaded path on any machine.
        ...(threadsParam() === undefined ? {} : { ortThreads: threadsParam() }),
        signal: ctl.signal,
        onProgress: (e) => {
          if (!settled && ctl === loading) progress(e);
        },
      });
      settled = true;
      if (ctl !== loading) {
        await loaded.unload(); // another load started meanwhile
        return;
      }
      llm = loaded;
      const i = loaded.info;
      status.textContent = `Loaded ${i.name} (${i.architecture}, ${i.layers} layers, ${Object.keys(i.weightTypes).join('/')}) in ${((performance.now() - t0) / 1000).toFixed(1)} s on ${i.backend} (${i.adapter}), ${i.precision} activations, ${i.runtime === 'worker' ? 'in a Web Worker' : 'on the page thread'}.`;
      bar.value = 1;
      barText.textContent = PHASES.ready!;
      barText.dataset.phase = 'ready';
      document.body.dataset.model = 'ready';
      hooks.onLoaded(loaded, source, backend);
    } catch (e) {
      settled = true;
      if (ctl !== loading) return;
      const err = e as { code?: string; message: string; name?: string };
      const aborted = ctl.signal.aborted;
      status.textContent = aborted ? 'Loading cancelled.' : `Could not load ${source}: ${err.message}`;
      status.className = aborted ? '' : 'bad';
      barText.textContent = '';
      bar.value = 0;
      document.body.dataset.model = 'failed';
    } finally {
      if (ctl === loading) {
        loading = undefined;
        cancel.hidden = true;
        showSource();
        hooks.afterLoad();
      }
    }
  }

  loadButton.addEventListener('click', () => void load());
  urlInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void load();
  });
  cancel.addEventListener('click', () => loading?.abort());
  showSource();
  return { load };
}

/** The page's ?threads=N, when it is a positive integer. */
function threadsParam(): number | undefined {
  const n = Number(new URLSearchParams(location.search).get('threads') ?? NaN);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
