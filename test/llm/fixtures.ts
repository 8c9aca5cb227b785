/** The fixture model files and a varied prompt set shared by the engine's fidelity tests. */
import { readFileSync } from 'node:fs';

export const FIXTURE_DIR = new URL('../../../shared/models/fortunes-1.8m/', import.meta.url).pathname;
export const VARIANTS = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m'] as const;
export type Variant = (typeof VARIANTS)[number];

export function fixturePath(v: Variant): string {
  return `${FIXTURE_DIR}fortunes-1.8m-${v}.gguf`;
}

export function fixtureBytes(v: Variant): Uint8Array {
  return new Uint8Array(readFileSync(fixturePath(v)));
}

/** The 12 prompts of the recorded references, plus 8 more of other shapes (digits, quotes, questions, lists). */
export function promptSet(): string[] {
  const recorded = JSON.parse(readFileSync(`${FIXTURE_DIR}reference/llamacpp-f32.json`, 'utf8')).prompts.map((p: { prompt: string }) => p.prompt);
  return [
    ...recorded,
    'In 1984, the',
    '"Never trust a',
    'Why do programmers',
    'Q: What is the meaning of life?\nA:',
    'Rule #1:',
    'The cat sat on the mat, and then',
    'If at first you',
    'Love is',
  ];
}

export function heldoutIds(): number[] {
  return JSON.parse(readFileSync(`${FIXTURE_DIR}reference/heldout_ids.json`, 'utf8'));
}
