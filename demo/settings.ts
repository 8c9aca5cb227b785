// The sampling settings shared by the chat and completion panels (max tokens, temperature, seed).
import { $ } from './format';

export function sampling(): { max_tokens: number; temperature: number; seed?: number } {
  const num = (id: string) => $<HTMLInputElement>(id).value.trim();
  const seed = num('seed');
  return {
    max_tokens: Math.max(1, Math.floor(Number(num('max-tokens')) || 64)),
    temperature: Math.max(0, Number(num('temperature')) || 0),
    ...(seed === '' ? {} : { seed: Number(seed) }),
  };
}
