// The demo app's entry: a text page (chat with GGUF models on this page's GPU or, through onnxruntime-web,
// on the CPU) and an image page (Stable Diffusion ONNX exports on onnxruntime-web), switched by the header's
// links (#text, #image). It wires the panels together (model picker with its backend choice → chat /
// completion views, diagnostics, cache manager; the image page) and
// uses the SDK exactly as an app would (src/index.ts); the engines run in a Web Worker, the SDK's default.
import { setupCacheManager } from './cache_manager';
import { setupChat } from './chat';
import { setupCompletion } from './completion';
import { showGpu, showModel } from './diagnostics';
import { $ } from './format';
import { setupImage } from './image';
import { setupKernels } from './kernels';
import { setupModelPicker } from './model_picker';

const chat = setupChat();
const completion = setupCompletion();
const cacheManager = setupCacheManager();
void cacheManager.refresh();

// Tabs: chat (default) or raw completion.
const tabs = { chat: [$('mode-chat'), $('chat-panel')], complete: [$('mode-complete'), $('complete-panel')] } as const;
for (const [mode, [tab]] of Object.entries(tabs)) {
  tab.addEventListener('click', () => {
    for (const [m, [t, panel]] of Object.entries(tabs)) {
      t.setAttribute('aria-selected', String(m === mode));
      panel.hidden = m !== mode;
    }
    document.body.dataset.mode = mode;
  });
}

// Pages: text (default) or image, from the URL's hash so that each can be linked to.
const image = setupImage();
const pages = { text: [$('page-text'), $('text-page')], image: [$('page-image'), $('image-page')] } as const;
function showPage(): void {
  const page = location.hash === '#image' ? 'image' : 'text';
  for (const [p, [link, main]] of Object.entries(pages)) {
    if (p === page) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
    main.hidden = p !== page;
  }
  document.body.dataset.page = page;
}
window.addEventListener('hashchange', showPage);
showPage();
window.addEventListener('pagehide', () => image.stop());

const gpu = await showGpu();
setupKernels(gpu);
// Text models load with or without WebGPU: 'auto' falls back to onnxruntime-web's WASM build.
setupModelPicker(
  {
    beforeUnload() {
      chat.stop();
      completion.stop();
    },
    onLoaded(llm, source, requested) {
      chat.setModel(llm);
      completion.setModel(llm);
      showModel(llm, source, requested);
    },
    onUnloaded() {
      chat.setModel(undefined);
      completion.setModel(undefined);
      showModel(undefined);
    },
    afterLoad: () => void cacheManager.refresh(),
  },
  { webgpu: gpu !== undefined },
);
