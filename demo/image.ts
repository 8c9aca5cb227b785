// The demo's image page: Stable Diffusion through the SDK's loadDiffusion (an ONNX export on onnxruntime-web,
// WebGPU or WASM, in the inpage Web Worker) → sd.generate({ prompt, negativePrompt, steps, guidance, seed,
// scheduler, width, height, onStep, signal }). The model comes from the built-in tiny random-weight export
// (public/models/tiny-sd/), any export's base URL, or a local folder (the folder input, or dropped on the
// page). Shows load progress (bytes, rate, ETA), a bar per step with a latent preview, the image on a canvas,
// the time per step and per image, a PNG download, and Stop.
import { loadDiffusion, type DiffusionBackend, type DiffusionImage, type DiffusionLoadProgress, type DiffusionModel, type StepEvent } from '../src/index';
import { $, bytes, duration, el, rate, showList } from './format';

const LOAD_PHASES: Partial<Record<DiffusionLoadProgress['phase'], string>> = {
  config: 'Reading the configs and tokenizer',
  download: 'Downloading',
  'cache-read': 'Reading from the browser cache',
  read: 'Reading from the folder',
  session: 'Creating the onnxruntime-web sessions',
  ready: 'Ready',
};
const SIZES = Array.from({ length: 16 }, (_, i) => (i + 1) * 64); // 64 … 1024

export interface ImageView {
  /** Stops a generation or a load in progress. */
  stop(): void;
}

/** Where the model comes from: what loadDiffusion gets, a name for messages, and a key (same key → same model). */
interface Source {
  options: { url: string } | { files: Record<string, Blob> };
  name: string;
  key: string;
  builtin: boolean;
}

export function setupImage(): ImageView {
  const sourcePick = $<HTMLSelectElement>('sd-source');
  const builtinNote = $('sd-builtin-note');
  const urlInput = $<HTMLInputElement>('sd-url');
  const folderBox = $('sd-folder-box');
  const folderText = $('sd-folder-text');
  const folderInput = $<HTMLInputElement>('sd-folder');
  const sourceHelp = $('sd-source-help');
  const backendPick = $<HTMLSelectElement>('sd-backend');
  const loadButton = $<HTMLButtonElement>('sd-load');
  const cancelButton = $<HTMLButtonElement>('sd-cancel');
  const loadBar = $<HTMLProgressElement>('sd-load-progress');
  const loadText = $('sd-load-text');
  const status = $('sd-status');
  const infoList = $('sd-info');

  const form = $<HTMLFormElement>('sd-form');
  const promptInput = $<HTMLTextAreaElement>('sd-prompt');
  const negativeInput = $<HTMLInputElement>('sd-negative');
  const stepsInput = $<HTMLInputElement>('sd-steps');
  const guidanceInput = $<HTMLInputElement>('sd-guidance');
  const seedInput = $<HTMLInputElement>('sd-seed');
  const schedulerPick = $<HTMLSelectElement>('sd-scheduler');
  const widthPick = $<HTMLSelectElement>('sd-width');
  const heightPick = $<HTMLSelectElement>('sd-height');
  const generateButton = $<HTMLButtonElement>('sd-generate');
  const stopButton = $<HTMLButtonElement>('sd-stop');
  const stepBar = $<HTMLProgressElement>('sd-step-progress');
  const stepText = $('sd-step-text');
  const canvas = $<HTMLCanvasElement>('sd-canvas');
  const caption = $('sd-caption');
  const stats = $('sd-stats');
  const stepTimes = $('sd-step-times');
  const download = $<HTMLAnchorElement>('sd-download');

  for (const pick of [widthPick, heightPick]) {
    pick.replaceChildren(...SIZES.map((s) => Object.assign(el('option', undefined, `${s}`), { value: String(s) })));
    pick.value = '512';
  }

  let sd: DiffusionModel | undefined;
  let loadedKey: string | undefined;
  let loadedBuiltin = false;
  let loading: AbortController | undefined;
  let generating: AbortController | undefined;
  let folder: { name: string; files: Record<string, Blob>; id: number } | undefined;
  let folderCount = 0;
  /** The size follows the loaded model's default until the user picks one. */
  let sizeChosen = false;
  let pngUrl: string | undefined;

  const refreshButtons = () => {
    const needsFolder = sourcePick.value === 'folder' && !folder;
    loadButton.disabled = needsFolder || loading !== undefined || generating !== undefined;
    generateButton.disabled = needsFolder || loading !== undefined || generating !== undefined;
    stopButton.disabled = generating === undefined;
    cancelButton.hidden = loading === undefined;
  };

  const showSource = () => {
    const v = sourcePick.value;
    builtinNote.hidden = v === 'url' || v === 'folder';
    urlInput.hidden = v !== 'url';
    folderBox.hidden = v !== 'folder';
    sourceHelp.hidden = v !== 'url' && v !== 'folder';
    $('sd-cache-note').hidden = v !== 'url';
    refreshButtons();
  };
  sourcePick.addEventListener('change', showSource);

  /** A folder selection: relative path → file, rooted where model_index.json is (it may sit one level down). */
  function useFolder(name: string, byPath: Record<string, Blob>): void {
    const index = Object.keys(byPath).filter((p) => p === 'model_index.json' || p.endsWith('/model_index.json')).sort((a, b) => a.length - b.length)[0];
    if (index === undefined) {
      status.textContent = `${name} has no model_index.json: pick the folder of a Stable Diffusion ONNX export.`;
      status.className = 'bad';
      return;
    }
    const root = index.slice(0, -'model_index.json'.length);
    const files: Record<string, Blob> = {};
    let total = 0;
    for (const [p, f] of Object.entries(byPath)) {
      if (!p.startsWith(root)) continue;
      files[p.slice(root.length)] = f;
      total += f.size;
    }
    folder = { name: root ? `${name}/${root.replace(/\/$/, '')}` : name, files, id: ++folderCount };
    sourcePick.value = 'folder';
    folderText.textContent = `${folder.name}: ${Object.keys(files).length} files, ${bytes(total)} —`;
    status.textContent = `Folder ${folder.name} selected.`;
    status.className = '';
    showSource();
  }

  folderInput.addEventListener('change', () => {
    const list = Array.from(folderInput.files ?? []);
    if (!list.length) return;
    // Every file of a folder selection is named "<folder>/<path>" in webkitRelativePath: drop "<folder>/".
    // (loadDiffusion's `files` also takes the FileList itself; a path → Blob map is what reaches its worker
    // unchanged, and lets us root the model at model_index.json.)
    const byPath: Record<string, Blob> = {};
    const top = (list[0]!.webkitRelativePath || list[0]!.name).split('/')[0]!;
    for (const f of list) {
      const rel = (f.webkitRelativePath || f.name).replace(/\\/g, '/');
      byPath[rel.startsWith(`${top}/`) ? rel.slice(top.length + 1) : rel] = f;
    }
    useFolder(top, byPath);
  });

  // A folder dropped anywhere while this page shows is the model folder (the text page's drop handler, which
  // loads a .gguf, does not see it: these listeners run first, in the capture phase on window).
  const onImagePage = () => document.body.dataset.page === 'image';
  window.addEventListener('dragover', (e) => {
    if (!onImagePage() || !e.dataTransfer?.types.includes('Files')) return;
    e.stopPropagation();
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    document.body.classList.add('sd-dragging');
  }, { capture: true });
  window.addEventListener('dragleave', (e) => {
    if (onImagePage() && e.relatedTarget === null) document.body.classList.remove('sd-dragging');
  }, { capture: true });
  window.addEventListener('drop', (e) => {
    if (!onImagePage()) return;
    e.stopPropagation();
    e.preventDefault();
    document.body.classList.remove('sd-dragging');
    const entries = Array.from(e.dataTransfer?.items ?? []).map((i) => i.webkitGetAsEntry()).filter((x): x is FileSystemEntry => x !== null);
    if (!entries.length) return;
    void (async () => {
      const byPath: Record<string, Blob> = {};
      // One folder dropped: its contents; several items: the contents of the folder they came from.
      const one = entries.length === 1 && entries[0]!.isDirectory ? (entries[0] as FileSystemDirectoryEntry) : undefined;
      for (const entry of one ? await readDirectory(one) : entries) await collect(entry, '', byPath);
      useFolder(one?.name ?? 'dropped files', byPath);
    })().catch((err: Error) => {
      status.textContent = `Could not read the dropped folder: ${err.message}`;
      status.className = 'bad';
    });
  }, { capture: true });

  function currentSource(): Source | undefined {
    const v = sourcePick.value;
    const backend = backendPick.value;
    if (v === 'folder') return folder && { options: { files: folder.files }, name: folder.name, key: `folder#${folder.id}|${backend}`, builtin: false };
    if (v === 'url') {
      const url = urlInput.value.trim();
      if (!url) return undefined;
      return { options: { url }, name: url, key: `url:${url}|${backend}`, builtin: false };
    }
    const url = new URL(v, document.baseURI).href;
    return { options: { url }, name: 'tiny-sd (built in, random weights)', key: `url:${url}|${backend}`, builtin: true };
  }

  const showLoadProgress = (e: DiffusionLoadProgress) => {
    const parts = [LOAD_PHASES[e.phase] ?? e.phase];
    if (e.phase === 'session') {
      loadBar.value = e.loadedBytes / 3;
      parts.push(`${e.component} (${e.loadedBytes + 1} of 3)`);
    } else if (e.file && e.totalBytes > 0) {
      loadBar.value = Math.min(1, e.loadedBytes / e.totalBytes);
      parts.push(`${e.file}: ${bytes(e.loadedBytes)} / ${bytes(e.totalBytes)}`);
      if (e.rate) parts.push(rate(e.rate));
      if (e.etaSeconds !== undefined && e.loadedBytes < e.totalBytes) parts.push(`${duration(e.etaSeconds)} left`);
    } else if (e.phase === 'ready') {
      loadBar.value = 1;
    }
    loadText.textContent = parts.join(' · ');
    loadText.dataset.phase = e.phase;
  };

  /** Loads the selected model (unloading the previous one); resolves with it, or undefined on failure. */
  async function load(): Promise<DiffusionModel | undefined> {
    const source = currentSource();
    if (!source) {
      status.textContent = sourcePick.value === 'url' ? 'Type the base URL of the export (the folder holding model_index.json) first.' : 'Choose a folder first.';
      status.className = 'bad';
      return undefined;
    }
    generating?.abort();
    loading?.abort();
    const ctl = (loading = new AbortController());
    if (sd) {
      const old = sd;
      sd = undefined;
      loadedKey = undefined;
      await old.unload().catch(() => {});
    }
    document.body.dataset.sdModel = 'loading';
    refreshButtons();
    loadBar.value = 0;
    loadText.textContent = '';
    infoList.replaceChildren();
    status.textContent = `Loading ${source.name}…`;
    status.className = '';
    const t0 = performance.now();
    try {
      const model = await loadDiffusion({
        ...source.options,
        backend: backendPick.value as DiffusionBackend,
        signal: ctl.signal,
        onProgress: (e) => {
          if (ctl === loading) showLoadProgress(e);
        },
      });
      if (ctl !== loading) {
        await model.unload();
        return undefined;
      }
      sd = model;
      loadedKey = source.key;
      loadedBuiltin = source.builtin;
      const i = model.info;
      const weights = Object.values(i.files).reduce((a, b) => a + b, 0);
      status.textContent = `Loaded ${source.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s.`;
      loadBar.value = 1;
      loadText.textContent = `Ready · ${bytes(weights)} of weights`;
      showList(infoList, [
        ['backend', `${i.backend} — ${i.backendReason}`],
        ['runs', i.runtime === 'worker' ? `in a Web Worker — ${i.runtimeReason}` : `on the page thread — ${i.runtimeReason}`],
        ['precision', i.fp16 ? 'fp16 UNet' : 'fp32'],
        ['text width', String(i.hiddenSize)],
        ['default size', `${i.defaultSize}×${i.defaultSize}`],
        ['scheduler', i.schedulerClass || '?'],
        ['guidance', i.unetMaxBatch >= 2 ? 'one batch-2 UNet call per step' : 'two UNet calls per step'],
        ['weights', Object.entries(i.files).map(([f, n]) => `${f} ${bytes(n)}`).join(', ')],
      ]);
      if (!sizeChosen && SIZES.includes(i.defaultSize)) widthPick.value = heightPick.value = String(i.defaultSize);
      document.body.dataset.sdModel = 'ready';
      return model;
    } catch (e) {
      if (ctl !== loading) return undefined;
      const aborted = ctl.signal.aborted;
      status.textContent = aborted ? 'Loading cancelled.' : `Could not load ${source.name}: ${(e as Error).message}`;
      status.className = aborted ? '' : 'bad';
      loadBar.value = 0;
      loadText.textContent = '';
      document.body.dataset.sdModel = 'failed';
      return undefined;
    } finally {
      if (ctl === loading) loading = undefined;
      refreshButtons();
    }
  }

  /** The form's settings, or an error message. */
  function settings(): { prompt: string; negativePrompt: string; steps: number; guidance: number; seed: number; scheduler: string; width: number; height: number } | string {
    const steps = Number(stepsInput.value);
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) return 'Steps must be a whole number from 1 to 1000.';
    const guidance = Number(guidanceInput.value);
    if (guidanceInput.value.trim() === '' || !Number.isFinite(guidance) || guidance < 0) return 'Guidance must be a number ≥ 0 (≤ 1 turns it off).';
    const seed = Number(seedInput.value);
    if (seedInput.value.trim() === '' || !Number.isSafeInteger(seed) || seed < 0) return 'The seed must be a whole number ≥ 0.';
    return {
      prompt: promptInput.value,
      negativePrompt: negativeInput.value,
      steps,
      guidance,
      seed,
      scheduler: schedulerPick.value,
      width: Number(widthPick.value),
      height: Number(heightPick.value),
    };
  }

  function drawPreview(p: NonNullable<StepEvent['preview']>, width: number, height: number): void {
    const small = new OffscreenCanvas(p.width, p.height);
    small.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(p.data), p.width, p.height), 0, 0);
    if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
    const ctx = canvas.getContext('2d')!;
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(small, 0, 0, width, height);
    canvas.dataset.shows = 'preview';
  }

  async function generate(): Promise<void> {
    if (generating || loading) return;
    delete stats.dataset.done;
    const s = settings();
    if (typeof s === 'string') {
      stats.textContent = s;
      stats.className = 'stats bad';
      return;
    }
    const key = currentSource()?.key;
    const model = sd && key === loadedKey ? sd : await load();
    if (!model) {
      if (!loading) stats.textContent = 'No model: see the model panel.';
      stats.dataset.done = 'error';
      return;
    }

    const ctl = (generating = new AbortController());
    refreshButtons();
    document.body.dataset.generating = 'yes';
    delete stats.dataset.done;
    stats.className = 'stats';
    stats.textContent = 'Encoding the prompt…';
    stepBar.max = s.steps;
    stepBar.value = 0;
    stepText.textContent = `step 0 of ${s.steps}`;
    stepTimes.replaceChildren();
    caption.textContent = 'Generating…';
    const t0 = performance.now();
    const stepAt: number[] = [];
    let done = 0;
    /** Set once the image is shown: a step report arriving later (it may, from the worker) is ignored. */
    let finished = false;
    try {
      const image: DiffusionImage = await model.generate({
        ...s,
        previews: true,
        signal: ctl.signal,
        onStep: (e) => {
          if (ctl !== generating || finished) return;
          const now = performance.now();
          stepAt.push(now);
          done = e.step + 1;
          stepBar.max = e.steps;
          stepBar.value = done;
          const last = stepAt.length > 1 ? `${(now - stepAt.at(-2)!).toFixed(0)} ms` : `${(now - t0).toFixed(0)} ms with the prompt encoding`;
          stepText.textContent = `step ${done} of ${e.steps} · this step ${last}`;
          stats.textContent = done < e.steps ? 'Denoising…' : 'Decoding the image (VAE)…';
          if (e.preview) drawPreview(e.preview, s.width, s.height);
        },
      });
      // Step reports and the image come from the worker on different message channels: give reports still
      // on their way a moment to arrive, so that the bar and the list of step times are complete.
      for (let waited = 0; stepAt.length < s.steps && waited < 500; waited += 20) await new Promise((r) => setTimeout(r, 20));
      finished = true;
      done = s.steps;
      stepBar.value = stepBar.max = s.steps;
      const t = image.timings;
      Object.assign(canvas, { width: image.width, height: image.height });
      canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(image.data), image.width, image.height), 0, 0);
      canvas.dataset.shows = 'image';
      canvas.dataset.seed = String(image.seed);
      stepText.textContent = `step ${done} of ${s.steps} · done`;
      // Per step: the SDK's own clock (UNet calls + scheduler, averaged); the list shows each step as seen
      // here, between step callbacks (the first one minus the SDK's text-encoder time).
      const ms = (sec: number) => `${(sec * 1000).toFixed(sec < 1 ? 1 : 0)} ms`;
      stats.textContent = `${ms(t.perStep)} per step · ${t.total.toFixed(2)} s per image (text encoder ${ms(t.textEncoder)}, ` +
        `UNet ${s.steps} steps ${t.unet.toFixed(2)} s, VAE ${ms(t.vae)}) · ${image.width}×${image.height}, seed ${image.seed}, ${s.scheduler}, ${model.info.backend}`;
      stats.dataset.perStepMs = (t.perStep * 1000).toFixed(3);
      stats.dataset.imageMs = (t.total * 1000).toFixed(3);
      const firstStart = t0 + t.textEncoder * 1000;
      stepTimes.replaceChildren(...stepAt.map((at, i) => el('li', undefined, `${Math.max(0, at - (i === 0 ? firstStart : stepAt[i - 1]!)).toFixed(0)} ms`)));
      caption.textContent = `“${s.prompt}”${loadedBuiltin ? ' — by the built-in model with random weights: noise is the expected picture.' : ''}`;
      if (pngUrl) URL.revokeObjectURL(pngUrl);
      pngUrl = URL.createObjectURL(await image.toBlob());
      download.href = pngUrl;
      download.download = `inpage-${image.seed}.png`;
      download.hidden = false;
      stats.dataset.done = 'done';
    } catch (e) {
      const err = e as { code?: string; message: string };
      if (err.code === 'Aborted' || ctl.signal.aborted) {
        stats.textContent = `Stopped after step ${done} of ${s.steps}.`;
        caption.textContent = 'Stopped: the canvas shows the last preview.';
        stats.dataset.done = 'stopped';
      } else {
        stats.textContent = `Error: ${err.message}`;
        stats.className = 'stats bad';
        caption.textContent = '';
        stats.dataset.done = 'error';
      }
    } finally {
      if (ctl === generating) generating = undefined;
      document.body.dataset.generating = 'no';
      refreshButtons();
    }
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void generate();
  });
  promptInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  stopButton.addEventListener('click', () => generating?.abort());
  loadButton.addEventListener('click', () => void load());
  cancelButton.addEventListener('click', () => loading?.abort());
  urlInput.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') void load();
  });
  $('sd-seed-random').addEventListener('click', () => {
    seedInput.value = String(crypto.getRandomValues(new Uint32Array(1))[0]);
  });
  for (const pick of [widthPick, heightPick]) pick.addEventListener('change', () => (sizeChosen = true));
  showSource();

  return {
    stop() {
      generating?.abort();
      loading?.abort();
    },
  };
}

/** All entries of a directory (readEntries returns them in batches). */
async function readDirectory(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (!batch.length) return all;
    all.push(...batch);
  }
}

/** The files under a dropped entry, by path relative to the drop. */
async function collect(entry: FileSystemEntry, prefix: string, out: Record<string, Blob>): Promise<void> {
  if (entry.isFile) {
    out[prefix + entry.name] = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
  } else if (entry.isDirectory) {
    for (const child of await readDirectory(entry as FileSystemDirectoryEntry)) await collect(child, `${prefix}${entry.name}/`, out);
  }
}
