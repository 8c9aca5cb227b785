// Stop strings against the plain definition: the output is the text before the first occurrence of any
// stop string in the whole generated text, however the text is split into pieces.
import { describe, expect, it } from 'vitest';
import { StopStringFilter } from '../../src/llm/stop_strings';
import { rng } from '../random';

function reference(text: string, stops: string[]): string {
  let cut = text.length;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (s && at >= 0) cut = Math.min(cut, at);
  }
  return text.slice(0, cut);
}

describe('StopStringFilter', () => {
  it('matches the definition for random splits of random texts', () => {
    const r = rng(3);
    const alphabet = 'ab\nc<|>';
    for (let trial = 0; trial < 500; trial++) {
      const text = Array.from({ length: 5 + Math.floor(r() * 40) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
      const stops = [['\n\n'], ['<|end|>', 'ba'], ['abc', 'c<'], []][trial % 4]!;
      const f = new StopStringFilter(stops);
      let out = '';
      for (let i = 0; i < text.length && !f.hasStopped; ) {
        const n = 1 + Math.floor(r() * 4);
        out += f.push(text.slice(i, i + n));
        i += n;
      }
      out += f.flush();
      expect(out).toBe(reference(text, stops));
    }
  });

  it('never emits a prefix of a stop string before it is resolved', () => {
    const f = new StopStringFilter(['</s>']);
    expect(f.push('hello <')).toBe('hello ');
    expect(f.push('/')).toBe('');
    expect(f.push('x')).toBe('</x');
    expect(f.push(' </s> tail')).toBe(' ');
    expect(f.hasStopped).toBe(true);
  });
});
