/**
 * Typed reads of GGUF metadata values. GGUF readers hand values over in several shapes (numbers or bigints
 * for integers, plain arrays or typed arrays for arrays), so accept all of them and reject anything else with
 * an InvalidModelFile error that names the key.
 */
import { ModelFileError } from '../errors';

export type Metadata = Readonly<Record<string, unknown>>;

function invalid(key: string, what: string): ModelFileError {
  return new ModelFileError('InvalidModelFile', `GGUF metadata key ${key} ${what}; the file's tokenizer cannot be built`);
}

function isArrayLike(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
}

export function optString(meta: Metadata, key: string): string | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalid(key, `should be a string, found ${typeof v}`);
  return v;
}

export function optBool(meta: Metadata, key: string): boolean | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw invalid(key, `should be a boolean, found ${typeof v}`);
  return v;
}

/** A non-negative integer (GGUF u32/i32/u64), or undefined when absent. */
export function optUint(meta: Metadata, key: string): number | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(key, `should be a non-negative integer, found ${String(v)}`);
  return n;
}

export function optStringArray(meta: Metadata, key: string): readonly string[] | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(key, 'should be an array of strings');
  return v as string[];
}

export function optNumberArray(meta: Metadata, key: string): ArrayLike<number> | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (!isArrayLike(v)) throw invalid(key, 'should be an array of numbers');
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const n = typeof x === 'bigint' ? Number(x) : x;
    if (typeof n !== 'number') throw invalid(key, `has a non-number at index ${i}`);
    out[i] = n;
  }
  return out;
}

export { invalid as invalidMetadata };
