/**
 * The layering rule of /work/shared/design.md and README's Layout section, checked on the source: data flows
 * page → runtime → backends → engines (llm, diffusion) → ops → kernels, and nothing below a layer imports
 * from above it. Every relative import in src/ (static, `import type`, `export … from`, and dynamic
 * `import('…')`) is resolved to the top-level folder it lands in and checked against the table below.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Folder → the folders it must never import from. */
const FORBIDDEN: Record<string, string[]> = {
  llm: ['runtime', 'backends'],
  diffusion: ['runtime', 'backends'],
  formats: ['runtime', 'backends', 'llm', 'diffusion'],
  ops: ['runtime', 'backends', 'llm', 'diffusion'],
  gpu: ['runtime', 'backends', 'llm', 'diffusion'],
  tokenizer: ['runtime', 'backends', 'llm', 'diffusion'],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(e.name) ? [path] : [];
  });
}

/** Relative specifiers of a file's imports and re-exports, static or dynamic (comments stripped first). */
export function relativeImports(code: string): string[] {
  const stripped = code.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const out: string[] = [];
  for (const m of stripped.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]*)\1/g)) out.push(m[2]!);
  return out;
}

/** The top-level folder under src/ of a path ('' for files directly in src/ or outside it). */
function layerOf(path: string): string {
  const rel = relative(SRC, path);
  if (rel.startsWith('..')) return '';
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0]! : '';
}

export function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = layerOf(file);
    const banned = FORBIDDEN[from];
    if (!banned) continue;
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const to = layerOf(resolve(dirname(file), spec));
      if (banned.includes(to)) found.push(`src/${relative(SRC, file).split(sep).join('/')} imports '${spec}' (${from} → ${to})`);
    }
  }
  return found;
}

test('the import scanner sees static, type-only, re-export and dynamic imports, not comments', () => {
  const code = [
    "import { a } from '../runtime/x';",
    "import type { B } from '../backends/y';",
    "export { c } from './z';",
    "import './side_effect';",
    "const m = await import('../backends/ort/w');",
    "// import { d } from '../runtime/commented';",
    "/* import('../runtime/blocked') */",
    "const url = 'http://example.com/x'; import { e } from '../gpu';",
  ].join('\n');
  expect(relativeImports(code)).toEqual(['../runtime/x', '../backends/y', './z', './side_effect', '../backends/ort/w', '../gpu']);
});

test('src/ imports only downward: engines never reach the runtime or backends; ops, gpu, formats, tokenizer never reach the engines', () => {
  expect(Object.keys(FORBIDDEN).every((layer) => sourceFiles(SRC).some((f) => layerOf(f) === layer))).toBe(true);
  expect(violations()).toEqual([]);
});
