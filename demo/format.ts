// Small text helpers shared by the demo's panels: byte sizes, rates, durations, and a tiny element builder.

/** 1031008 → "1.0 MB" (decimal units, as browsers and download dialogs show them). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '?';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** Bytes per second → "12 MB/s". */
export function rate(bytesPerSecond: number | undefined): string {
  return bytesPerSecond && bytesPerSecond > 0 ? `${bytes(bytesPerSecond)}/s` : '';
}

/** Seconds → "4 s" / "2 min 5 s". */
export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 1) return '<1 s';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  return `${m} min ${Math.round(seconds - m * 60)} s`;
}

/** The last path segment of a URL, for lists (the full URL goes in a title). */
export function fileName(url: string): string {
  try {
    return decodeURIComponent(new URL(url, document.baseURI).pathname.split('/').pop() || url);
  } catch {
    return url;
  }
}

/** document.createElement with a class and text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Fills a <dl> with [term, description] pairs. */
export function showList(list: HTMLElement, entries: [string, string][]): void {
  list.replaceChildren(...entries.flatMap(([k, v]) => [el('dt', undefined, k), el('dd', undefined, v)]));
}
