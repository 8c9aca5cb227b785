// The demo app's entry: a chat page for GGUF models running on this page's GPU. It wires the panels
// together (model picker → chat / completion views, diagnostics, cache manager) and uses the SDK exactly
// as an app would (src/index.ts); the engine runs in a Web Worker, loadModel's default.
import { setupCacheManager } from './cache_manager';
import { setupChat } from './chat';
import { setupCompletion } from './completion';
import { showGpu, showModel } from './diagnostics';
import { $ } from './format';
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

const gpu = await showGpu();
setupKernels(gpu);
if (gpu) {
  setupModelPicker({
    beforeUnload() {
      chat.stop();
      completion.stop();
    },
    onLoaded(llm, source) {
      chat.setModel(llm);
      completion.setModel(llm);
      showModel(llm, source);
    },
    onUnloaded() {
      chat.setModel(undefined);
      completion.setModel(undefined);
      showModel(undefined);
    },
    afterLoad: () => void cacheManager.refresh(),
  });
} else {
  $<HTMLButtonElement>('model-load').disabled = true;
  $('model-status').textContent = 'This browser has no WebGPU, so models cannot run here (try a recent Chrome or Edge).';
}
