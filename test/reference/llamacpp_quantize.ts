/**
 * llama.cpp's own quantizer (llama_model_quantize in the prebuilt libllama that node-llama-cpp ships), for
 * making test files exactly as published GGUF files are made: the per-tensor type mixes of each file type and
 * the fallbacks for rows not divisible by 256 (Q4_K → Q5_0, …). And, with `dequantizeWithLlamaCpp`, the exact
 * weights of a quantized file: requantizing to all-F32 runs ggml's own `to_float` on every tensor.
 *
 * The command is test/reference/native/quantize.c, compiled on first use with the system's C compiler
 * against the llama.h of the llama.cpp node-llama-cpp was built from (read out of its git bundle) and linked
 * with the shipped libllama. Both the binary and every output file are cached under the OS temp folder,
 * keyed by what they are made from, so parallel test workers and repeated runs share them.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** llama.cpp file types (enum llama_ftype in llama.h) the tests make. */
export const LLAMA_FTYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q5_0: 8,
  Q5_1: 9,
  Q2_K: 10,
  Q3_K_S: 11,
  Q3_K_M: 12,
  Q3_K_L: 13,
  Q4_K_S: 14,
  Q4_K_M: 15,
  Q5_K_S: 16,
  Q5_K_M: 17,
  Q6_K: 18,
  IQ4_NL: 25,
  IQ4_XS: 30,
  BF16: 32,
} as const;
export type LlamaFileType = keyof typeof LLAMA_FTYPE;

const modules = new URL('../../node_modules/', import.meta.url).pathname;
const nodeLlamaCpp = join(modules, 'node-llama-cpp');
const libDir = join(modules, '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');
const cacheRoot = join(tmpdir(), 'inpage-llamacpp');
const source = new URL('./native/quantize.c', import.meta.url).pathname;

function hash(...parts: (string | Uint8Array)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex').slice(0, 16);
}

/** Moves a finished file into place; a concurrent worker that got there first wins, and that is fine. */
function publish(tmp: string, path: string): void {
  try {
    renameSync(tmp, path);
  } catch (e) {
    if (!existsSync(path)) throw e;
  }
}

/** A file's content hash, read in pieces (the bench's inputs are hundreds of MiB). */
function fileHash(path: string): string {
  const h = createHash('sha256');
  const piece = new Uint8Array(4 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let n; (n = readSync(fd, piece)) > 0; ) h.update(piece.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex').slice(0, 16);
}

let binary: string | undefined;

/** The compiled quantize command (built once per machine and llama.cpp version). */
export function quantizerBinary(): string {
  if (binary) return binary;
  const bundle = join(nodeLlamaCpp, 'llama', 'gitRelease.bundle');
  const lib = readdirLlama();
  const key = hash(readFileSync(source), String(statSync(bundle).size), lib);
  const path = join(cacheRoot, `quantize-${key}`);
  if (!existsSync(path)) {
    mkdirSync(cacheRoot, { recursive: true });
    const work = mkdtempSync(join(cacheRoot, 'build-'));
    try {
      // The headers, from the llama.cpp source node-llama-cpp ships as a git bundle.
      execFileSync('git', ['init', '-q', work]);
      execFileSync('git', ['-C', work, 'fetch', '-q', bundle, 'HEAD:refs/heads/llama']);
      execFileSync('git', ['-C', work, '-c', 'advice.detachedHead=false', 'checkout', '-q', 'llama', '--', 'include', 'ggml/include']);
      const out = join(work, 'quantize');
      execFileSync('cc', [
        '-O1', source, '-o', out,
        '-I', join(work, 'include'), '-I', join(work, 'ggml', 'include'),
        '-L', libDir, `-l:${lib}`, `-Wl,-rpath,${libDir}`,
      ]);
      publish(out, path);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }
  binary = path;
  return path;
}

/** The file name of the shipped libllama (it carries a version: libllama.v0.5.0.so). */
function readdirLlama(): string {
  const lib = readdirSync(libDir).find((n) => /^libllama(\.v[\d.]+)?\.so$/.test(n));
  if (!lib) throw new Error(`no libllama in ${libDir}`);
  return lib;
}

function run(input: string, ftype: number, requantize: boolean, tag: string): string {
  const bin = quantizerBinary();
  const key = hash(fileHash(input), String(ftype), String(requantize), readFileSync(bin));
  mkdirSync(cacheRoot, { recursive: true });
  const path = join(cacheRoot, `${tag}-${key}.gguf`);
  if (existsSync(path)) return path;
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    execFileSync(bin, [input, tmp, String(ftype), ...(requantize ? ['requantize'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`llama_model_quantize ${input} → ftype ${ftype} failed: ${err.stderr?.toString().split('\n').slice(-6).join('\n')}`);
  }
  publish(tmp, path);
  return path;
}

/**
 * `input` (an F32 or F16 GGUF file) as llama.cpp writes it in file type `ftype`. `requantize` lets the input
 * be quantized already (llama.cpp dequantizes it first): the tensor types come out the same, the values
 * carry both roundings — for files that are timed, not for ones whose numbers are checked.
 */
export function quantizeWithLlamaCpp(input: string, ftype: LlamaFileType, { requantize = false } = {}): string {
  return run(input, LLAMA_FTYPE[ftype], requantize, ftype.toLowerCase());
}

/** Every tensor of `input` dequantized by ggml's own to_float into an all-F32 file: the file's exact weights. */
export function dequantizeWithLlamaCpp(input: string): string {
  return run(input, LLAMA_FTYPE.F32, true, 'dequantized');
}
