// The demo's cache manager: lists the model files kept in the browser's IndexedDB weight cache (with their
// sizes and whether the download finished), deletes one, or clears them all, through the SDK's `cache` API.
import { cache, type CacheEntry } from '../src/index';
import { $, bytes, el, fileName } from './format';

export function setupCacheManager(): { refresh(): Promise<void> } {
  const list = $('cache-list');
  const summary = $('cache-summary');
  const clear = $<HTMLButtonElement>('cache-clear');

  async function refresh(): Promise<void> {
    let entries: CacheEntry[];
    try {
      entries = await cache.list();
    } catch (e) {
      list.replaceChildren();
      summary.textContent = `The cache cannot be read here: ${(e as Error).message}`;
      return;
    }
    list.replaceChildren(...entries.map(row));
    clear.disabled = entries.length === 0;
    const total = entries.reduce((s, e) => s + e.storedBytes, 0);
    let text = entries.length === 0 ? 'Nothing cached yet.' : `${entries.length} file${entries.length > 1 ? 's' : ''}, ${bytes(total)}.`;
    const estimate = await navigator.storage?.estimate?.().catch(() => undefined);
    if (estimate?.quota) text += ` This site may store up to ${bytes(estimate.quota)}.`;
    summary.textContent = text;
    list.dataset.count = String(entries.length);
  }

  function row(e: CacheEntry): HTMLLIElement {
    const li = el('li', 'cache-entry');
    li.dataset.url = e.url;
    li.dataset.size = String(e.size);
    li.title = `${e.url}\n${e.size} bytes in ${e.chunks} chunk${e.chunks > 1 ? 's' : ''}, saved ${e.updatedAt.toLocaleString()}`;
    const name = el('span', 'cache-name', fileName(e.url));
    const size = el('span', 'cache-size', e.complete ? bytes(e.size) : `${bytes(e.storedBytes)} of ${bytes(e.size)} (partial: resumes on next load)`);
    const del = el('button', 'small danger cache-delete', 'Delete');
    del.setAttribute('aria-label', `Delete ${fileName(e.url)} from the cache`);
    del.addEventListener('click', async () => {
      del.disabled = true;
      try {
        await cache.delete(e.url);
      } catch (err) {
        summary.textContent = `Could not delete: ${(err as Error).message}`;
      }
      await refresh();
    });
    li.append(name, size, del);
    return li;
  }

  clear.addEventListener('click', async () => {
    if (!confirm('Delete every cached model file? The next load downloads them again.')) return;
    clear.disabled = true;
    try {
      await cache.clear();
    } catch (err) {
      summary.textContent = `Could not clear: ${(err as Error).message}`;
    }
    await refresh();
  });
  $('cache-refresh').addEventListener('click', () => void refresh());
  return { refresh };
}
