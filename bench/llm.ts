/**
 * End-to-end LLM benchmark: `npm run bench:llm [-- options]` (part of `npm run bench`).
 *
 * For each model — the fortunes-1.8m fixture (q4_0, q4_k_m), a synthetic model with the layer shapes of
 * Qwen2-0.5B (random weights, written once to bench/.cache/), and that model as llama.cpp's own quantizer
 * writes it in Q4_K_M (mostly Q5_0 at width 896) — in one process and one run:
 *  - our engine (loadModel from a `{ url }` served with Range requests by a child process, so the file is
 *    never in this process's JS memory) and llama.cpp (node-llama-cpp, CPU, `--threads` threads) on the same file and the
 *    same prompt token ids: prefill tok/s, time to first token, decode tok/s and inter-token latency
 *    p50/p90/p99 over greedy tokens (warm-up run and first decode steps excluded);
 *  - decode overhead: one decode step's ops (dispatches and copies) are captured while it runs; then real
 *    steps (wall clock, readback included) alternate with replays of the captured step in which every
 *    dispatch sits in a compute pass of its own between GPU timestamp queries (without timestamp-query:
 *    each op class timed alone with the kernel bench's timeRuns); median step ÷ median Σ kernel times;
 *  - memory: the allocator's peak GPU bytes over load + generation against packed weights + KV cache, and
 *    the JS heap (heapUsed + arrayBuffers) during the weight upload against the 4 MiB streaming chunk.
 * Results go to bench/results/llm.md and llm.json.
 *
 * Options: --only REGEX (model names), --prompt N / --decode N (synthetic model), --fixture-prompt N /
 * --fixture-decode N, --warmup-steps N (decode steps excluded from the latency figures, default 2),
 * --threads N (llama.cpp, default 2), --no-llamacpp, --no-overhead.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openLlamaCppCpu, timedGreedy } from './llamacpp_cpu';
import { acquireGpu, Recorder, type Binding, type Gpu, type Params } from '../src/gpu';
import type { Session } from '../src/llm/generate';
import type { LanguageModel } from '../src/llm/language_model';
import { loadModel } from '../src/llm/load_model';
import { DEFAULT_SAMPLING, Random, type SamplingParams } from '../src/llm/sampler';
import { REFERENCE_BLOCKS, type QuantType } from '../test/reference/ggml_quants';
import { GGML_TYPE_ID, gv, makeBpeVocab, quantize, TOKEN_TYPE, writeGguf, type MetaValue } from '../test/reference/gguf_writer';
import { quantizeWithLlamaCpp } from '../test/reference/llamacpp_quantize';
import { rng } from '../test/random';
import { timeRuns } from './harness';

/** loadModelWeights' default streaming chunk (src/llm/model_weights.ts). */
const CHUNK_BYTES = 4 << 20;
/**
 * Allowance for what the HTTP client holds besides our chunk when a sample is taken (socket reads queued
 * in the fetch body stream, ~64 KiB each) and the few objects per tensor the loaded model keeps.
 */
const TRANSPORT_ALLOWANCE = 256 << 10;
const FIXTURE_DIR = new URL('../../shared/models/fortunes-1.8m/', import.meta.url).pathname;
const CACHE_DIR = new URL('./.cache/', import.meta.url).pathname;
const GREEDY: SamplingParams = { ...DEFAULT_SAMPLING, temperature: 0, logitBias: new Map(), seed: 0 };

interface Options {
  only?: RegExp;
  prompt: number;
  decode: number;
  fixturePrompt: number;
  fixtureDecode: number;
  warmupSteps: number;
  threads: number;
  llamaCpp: boolean;
  overhead: boolean;
}

function parseOptions(args: string[]): Options {
  const value = (name: string) => {
    const at = args.indexOf(name);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const int = (name: string, fallback: number) => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${name} needs a non-negative integer, got ${v}`);
    return n;
  };
  const only = value('--only');
  return {
    only: only === undefined ? undefined : new RegExp(only),
    prompt: int('--prompt', 16),
    decode: int('--decode', 8),
    fixturePrompt: int('--fixture-prompt', 128),
    fixtureDecode: int('--fixture-decode', 64),
    warmupSteps: int('--warmup-steps', 2),
    threads: int('--threads', 2),
    llamaCpp: !args.includes('--no-llamacpp'),
    overhead: !args.includes('--no-overhead'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The synthetic Qwen2-0.5B-shape model, streamed to disk (never whole in memory)

const QWEN05 = { nLayers: 24, dModel: 896, nHeads: 14, nKvHeads: 2, headDim: 64, dFf: 4864, vocab: 151936, contextLength: 32768 };
/**
 * Q4_0 everywhere, except where llama.cpp's mixes use more bits and the row length allows: the tied
 * embedding / output head in Q8_0 (Q6_K needs rows of a multiple of 256; 896 is not, so llama.cpp falls
 * back to Q8_0 there too) and ffn_down (rows of 4864 = 19·256) in Q6_K.
 */
const SYNTHETIC_TYPES = { token_embd: 'Q8_0', attn: 'Q4_0', ffn_gate_up: 'Q4_0', ffn_down: 'Q6_K' } as const satisfies Record<string, QuantType>;
/** Bump when the generator changes, so a stale cache file is not reused. */
const SYNTHETIC_VERSION = 1;

interface TensorPlan {
  name: string;
  /** GGUF order: [row length, rows]. */
  dims: number[];
  type: QuantType;
  /** Writes the tensor's bytes in pieces. */
  emit: (write: (bytes: Uint8Array) => void) => void;
}

const byteLength = (type: QuantType, dims: number[]) => (dims[0]! * dims[1]! / REFERENCE_BLOCKS[type].values) * REFERENCE_BLOCKS[type].bytes;

/** The synthetic model's path, writing it first if no cache file of this version exists. */
function syntheticModelPath(): { path: string; writeSeconds?: number; writtenNow: boolean } {
  const path = `${CACHE_DIR}qwen2-0.5b-shape-q4_0-v${SYNTHETIC_VERSION}.gguf`;
  if (existsSync(path)) {
    const info = existsSync(`${path}.json`) ? (JSON.parse(readFileSync(`${path}.json`, 'utf8')) as { writeSeconds?: number }) : {};
    return { path, writeSeconds: info.writeSeconds, writtenNow: false };
  }
  mkdirSync(CACHE_DIR, { recursive: true });
  // The directory ignores itself, so the cache file never shows up in git.
  if (!existsSync(`${CACHE_DIR}.gitignore`)) writeFileSync(`${CACHE_DIR}.gitignore`, '*\n');
  const t0 = performance.now();
  console.log(`writing the synthetic Qwen2-0.5B-shape model to ${path} (once) ...`);
  writeSyntheticQwen(`${path}.tmp`);
  renameSync(`${path}.tmp`, path);
  const writeSeconds = (performance.now() - t0) / 1000;
  writeFileSync(`${path}.json`, JSON.stringify({ writeSeconds }));
  console.log(`  wrote ${(statSync(path).size / 2 ** 20).toFixed(1)} MiB in ${writeSeconds.toFixed(1)} s`);
  return { path, writeSeconds, writtenNow: true };
}

function writeSyntheticQwen(path: string): void {
  const c = QWEN05;
  const r = rng(20240605);
  // Byte-level BPE vocabulary of the qwen2 family (256 byte symbols, trained merges, 3 control tokens),
  // padded with unreachable normal tokens to Qwen2's 151936 entries so the embedding and head have real shapes.
  const vocab = makeBpeVocab('qwen2', 64);
  const tokens = [...vocab.tokens];
  const types = [...vocab.tokenTypes];
  for (let i = 0; tokens.length < c.vocab; i++) {
    tokens.push(`[pad${i}]`);
    types.push(TOKEN_TYPE.NORMAL);
  }
  const a = 'qwen2';
  const metadata: Record<string, MetaValue> = {
    'general.architecture': gv.string(a),
    'general.name': gv.string('synthetic qwen2-0.5b-shape q4_0'),
    [`${a}.context_length`]: gv.u32(c.contextLength),
    [`${a}.embedding_length`]: gv.u32(c.dModel),
    [`${a}.block_count`]: gv.u32(c.nLayers),
    [`${a}.feed_forward_length`]: gv.u32(c.dFf),
    [`${a}.rope.dimension_count`]: gv.u32(c.headDim),
    [`${a}.attention.head_count`]: gv.u32(c.nHeads),
    [`${a}.attention.head_count_kv`]: gv.u32(c.nKvHeads),
    [`${a}.attention.layer_norm_rms_epsilon`]: gv.f32(1e-6),
    [`${a}.rope.freq_base`]: gv.f32(1000000),
    [`${a}.vocab_size`]: gv.u32(c.vocab),
    ...vocab.metadata,
    'tokenizer.ggml.tokens': gv.array('string', tokens),
    'tokenizer.ggml.token_type': gv.array('i32', types),
  };

  // Weights as makeSyntheticModel draws them: matrices uniform in ±1/√in (±12/√in for the two that write
  // the residual stream), norms near 1, biases ±0.5, embedding ±1. Quantized a block of rows at a time.
  const matrix = (name: string, type: QuantType, rows: number, cols: number, scale: number): TensorPlan => ({
    name, dims: [cols, rows], type,
    emit(write) {
      const step = Math.max(1, Math.floor((1 << 20) / cols));
      for (let at = 0; at < rows; at += step) {
        const n = Math.min(step, rows - at);
        const values = new Float32Array(n * cols);
        for (let i = 0; i < values.length; i++) values[i] = (r() * 2 - 1) * scale;
        write(quantize(type, values, n, cols));
      }
    },
  });
  const vector = (name: string, n: number, scale: number, offset: number): TensorPlan => ({
    name, dims: [n, 1], type: 'F32',
    emit(write) {
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = offset + (r() * 2 - 1) * scale;
      write(new Uint8Array(values.buffer));
    },
  });
  const kv = c.nKvHeads * c.headDim;
  const d = c.dModel;
  const plan: TensorPlan[] = [matrix('token_embd.weight', SYNTHETIC_TYPES.token_embd, c.vocab, d, 1)];
  for (let l = 0; l < c.nLayers; l++) {
    const p = `blk.${l}.`;
    plan.push(
      vector(`${p}attn_norm.weight`, d, 0.2, 1),
      matrix(`${p}attn_q.weight`, SYNTHETIC_TYPES.attn, d, d, 1 / Math.sqrt(d)),
      matrix(`${p}attn_k.weight`, SYNTHETIC_TYPES.attn, kv, d, 1 / Math.sqrt(d)),
      matrix(`${p}attn_v.weight`, SYNTHETIC_TYPES.attn, kv, d, 1 / Math.sqrt(d)),
      vector(`${p}attn_q.bias`, d, 0.5, 0),
      vector(`${p}attn_k.bias`, kv, 0.5, 0),
      vector(`${p}attn_v.bias`, kv, 0.5, 0),
      matrix(`${p}attn_output.weight`, SYNTHETIC_TYPES.attn, d, d, 12 / Math.sqrt(d)),
      vector(`${p}ffn_norm.weight`, d, 0.2, 1),
      matrix(`${p}ffn_gate.weight`, SYNTHETIC_TYPES.ffn_gate_up, c.dFf, d, 1 / Math.sqrt(d)),
      matrix(`${p}ffn_up.weight`, SYNTHETIC_TYPES.ffn_gate_up, c.dFf, d, 1 / Math.sqrt(d)),
      matrix(`${p}ffn_down.weight`, SYNTHETIC_TYPES.ffn_down, d, c.dFf, 12 / Math.sqrt(c.dFf)),
    );
  }
  plan.push(vector('output_norm.weight', d, 0.2, 1));

  // Header: the test writer serialises the metadata (with no tensors); the tensor count and infos follow here.
  const alignment = 32;
  const head = writeGguf({ metadata, tensors: [], alignment });
  const header = head.bytes.slice(0, head.kvEnd);
  new DataView(header.buffer).setBigUint64(8, BigInt(plan.length), true);
  const infos: number[] = [];
  const u32 = (v: number) => infos.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const u64 = (v: number) => { u32(v % 2 ** 32); u32(Math.floor(v / 2 ** 32)); };
  const align = (n: number) => Math.ceil(n / alignment) * alignment;
  const offsets: number[] = [];
  let rel = 0;
  for (const t of plan) {
    const name = new TextEncoder().encode(t.name);
    u64(name.length);
    infos.push(...name);
    const dims = t.type === 'F32' ? [t.dims[0]!] : t.dims;
    u32(dims.length);
    for (const x of dims) u64(x);
    u32(GGML_TYPE_ID[t.type]);
    rel = align(rel);
    offsets.push(rel);
    u64(rel);
    rel += byteLength(t.type, t.dims);
  }

  const fd = openSync(path, 'w');
  try {
    let pos = 0;
    const write = (b: Uint8Array) => {
      writeSync(fd, b);
      pos += b.byteLength;
    };
    write(header);
    write(Uint8Array.from(infos));
    write(new Uint8Array(align(pos) - pos));
    const dataStart = pos;
    plan.forEach((t, i) => {
      write(new Uint8Array(dataStart + offsets[i]! - pos));
      const before = pos;
      t.emit(write);
      if (pos - before !== byteLength(t.type, t.dims)) throw new Error(`${t.name}: wrote ${pos - before} bytes, expected ${byteLength(t.type, t.dims)}`);
    });
    write(new Uint8Array(align(pos - dataStart) + dataStart - pos));
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Serving files with HTTP Range requests (what loadModel({ url }) needs), from this process

/** The server, run in a child process so its stream buffers are not counted in this process's JS memory. */
const SERVER_SOURCE = `
const { createServer } = require('node:http');
const { createReadStream, statSync } = require('node:fs');
const files = JSON.parse(process.argv[1]);
const server = createServer((req, res) => {
  const path = files[decodeURIComponent((req.url || '').slice(1))];
  if (!path) return void res.writeHead(404).end();
  const size = statSync(path).size;
  const m = /^bytes=(\\d+)-(\\d*)$/.exec(req.headers.range || '');
  if (!m) {
    res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
    return void createReadStream(path).pipe(res);
  }
  const start = Number(m[1]);
  const end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  if (start >= size) return void res.writeHead(416, { 'Content-Range': 'bytes */' + size }).end();
  res.writeHead(206, { 'Content-Range': 'bytes ' + start + '-' + end + '/' + size, 'Content-Length': end - start + 1, 'Accept-Ranges': 'bytes' });
  createReadStream(path, { start, end }).pipe(res);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

async function serveFiles(files: Map<string, string>): Promise<{ url: (name: string) => string; close: () => void }> {
  const child = spawn(process.execPath, ['-e', SERVER_SOURCE, JSON.stringify(Object.fromEntries(files))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the file server exited (code ${code})`)));
    child.stdout!.once('data', (d: Buffer) => resolve(Number(String(d).trim())));
  });
  return {
    url: (name) => `http://127.0.0.1:${port}/${encodeURIComponent(name)}`,
    close: () => {
      child.removeAllListeners('exit');
      child.kill();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// GPU memory by kind

const KINDS = ['weights', 'kv cache', 'activations & scratch', 'uniforms'] as const;
type AllocKind = (typeof KINDS)[number];
const allocKind = (label: string): AllocKind =>
  /^kv\./.test(label) ? 'kv cache' : /\.(weight|bias)(#\d+)?$/.test(label) ? 'weights' : label === 'inpage uniforms' ? 'uniforms' : 'activations & scratch';

/**
 * Wraps this Gpu's allocator to keep live bytes per kind and per label, and a copy of both at the peak
 * (the allocator itself only counts totals).
 */
function trackAllocations(gpu: Gpu) {
  const a = gpu.allocator;
  const live = new Map<GPUBuffer, { label: string; size: number }>();
  const byKind = new Map<AllocKind, number>();
  let atPeak: { byKind: Record<string, number>; byLabel: Record<string, number> } = { byKind: {}, byLabel: {} };
  const add = (b: GPUBuffer, label: string) => {
    live.set(b, { label, size: b.size });
    const k = allocKind(label);
    byKind.set(k, (byKind.get(k) ?? 0) + b.size);
    if (a.liveBytes >= a.peakBytes) {
      const byLabel: Record<string, number> = {};
      for (const v of live.values()) {
        const key = allocKind(v.label) === 'activations & scratch' || v.label === 'inpage uniforms' ? v.label : allocKind(v.label);
        byLabel[key] = (byLabel[key] ?? 0) + v.size;
      }
      atPeak = { byKind: Object.fromEntries(byKind), byLabel };
    }
  };
  const createBuffer = a.createBuffer.bind(a);
  const createUniform = a.createUniform.bind(a);
  const release = a.release.bind(a);
  a.createBuffer = (n, label, usage) => {
    const b = createBuffer(n, label, usage);
    add(b, label);
    return b;
  };
  a.createUniform = (n, label) => {
    const b = createUniform(n, label);
    add(b, label);
    return b;
  };
  a.release = (b) => {
    const v = live.get(b);
    if (v) {
      live.delete(b);
      const k = allocKind(v.label);
      byKind.set(k, byKind.get(k)! - v.size);
    }
    release(b);
  };
  return { atPeak: () => atPeak };
}

// ---------------------------------------------------------------------------------------------------------
// JS memory during load

setFlagsFromString('--expose-gc');
const gcOnce = runInNewContext('gc') as () => void;
/** Twice: V8 sweeps dead ArrayBuffers concurrently, and the second collection waits for the first's sweep. */
const gc = () => {
  gcOnce();
  gcOnce();
};
const jsMemory = () => {
  const m = process.memoryUsage();
  return { objects: m.heapUsed, buffers: m.arrayBuffers, rss: m.rss };
};
type JsLevel = { objects: number; buffers: number };
const total = (l: JsLevel) => l.objects + l.buffers;

/**
 * JS memory (V8 heapUsed + ArrayBuffers) while a load runs. Live levels are taken after a forced GC: before
 * the load, once the metadata is parsed and the tokenizer built, every 16 MiB of upload (inside the
 * progress callback, while the chunk just uploaded is still referenced), and after the load. Raw samples
 * (no GC; every ms the event loop is free and at every progress event) include garbage not yet collected.
 */
class LoadMemory {
  readonly baseline: JsLevel;
  readonly baselineRss: number;
  afterMetadata: JsLevel = { objects: NaN, buffers: NaN };
  afterLoad: JsLevel = { objects: NaN, buffers: NaN };
  /** The upload sample with the most live memory. */
  peakUpload: JsLevel = { objects: 0, buffers: 0 };
  maxRaw = 0;
  maxRss = 0;
  liveSamples = 0;
  private lastLiveAt = -Infinity;
  private timer: ReturnType<typeof setInterval>;

  constructor() {
    gc();
    const m = jsMemory();
    this.baseline = m;
    this.baselineRss = m.rss;
    this.timer = setInterval(() => this.raw(), 1);
  }

  raw(): void {
    const m = jsMemory();
    this.maxRaw = Math.max(this.maxRaw, total(m));
    this.maxRss = Math.max(this.maxRss, m.rss);
  }

  progress(phase: string, loadedBytes: number, totalBytes: number): void {
    this.raw();
    if (phase === 'metadata') {
      gc();
      this.afterMetadata = jsMemory();
    } else if (phase === 'gpu-upload' && (loadedBytes - this.lastLiveAt >= 16 << 20 || loadedBytes === totalBytes)) {
      this.lastLiveAt = loadedBytes;
      gc();
      const m = jsMemory();
      if (total(m) > total(this.peakUpload)) this.peakUpload = m;
      this.liveSamples++;
    }
  }

  finish(): void {
    clearInterval(this.timer);
    gc();
    this.afterLoad = jsMemory();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Timing generation

interface RunTimes {
  promptTokens: number;
  ttftMs: number;
  prefillTps: number;
  decodeTps: number;
  /** Inter-token latencies after the warm-up steps, ms. */
  itl: number[];
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  tokens: number[];
}

/** Nearest-rank percentile. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** stamps[i]: when generated token i was known (stamps[0]: the first token, after prefill). */
function runTimes(t0: number, stamps: number[], promptTokens: number, warmupSteps: number, tokens: number[]): RunTimes {
  const ttftMs = stamps[0]! - t0;
  const itl = stamps.slice(1).map((t, i) => t - stamps[i]!).slice(warmupSteps);
  const sorted = [...itl].sort((a, b) => a - b);
  const mean = itl.reduce((a, b) => a + b, 0) / itl.length;
  return {
    promptTokens, ttftMs, prefillTps: promptTokens / (ttftMs / 1000), decodeTps: 1000 / mean, itl,
    p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), mean, tokens,
  };
}

/**
 * One greedy generation through Session.generate (the loop behind completions.create), from an empty
 * cache. The tokenizer given to it stamps the time of each generated token as the loop decodes it (right
 * after the token is read back) and never ends generation, so exactly 1 + warmupSteps + decode tokens come.
 */
async function engineRun(session: Session, prompt: number[], decode: number, warmupSteps: number): Promise<RunTimes> {
  session.reset();
  const stamps: number[] = [];
  const tokenizer = {
    createStreamDecoder: () => ({ push: () => (stamps.push(performance.now()), ''), flush: () => '' }),
    isEndOfGeneration: () => false,
  };
  const t0 = performance.now();
  const gen = session.generate({ prompt, sampling: GREEDY, maxTokens: 1 + warmupSteps + decode, stop: [] }, tokenizer);
  let r = await gen.next();
  while (!r.done) r = await gen.next();
  return runTimes(t0, stamps, prompt.length, warmupSteps, r.value.tokens);
}

// ---------------------------------------------------------------------------------------------------------
// Decode overhead: the step's ops captured while it runs, then timed alone

type CapturedOp =
  | { kind: 'dispatch'; label: string; pipeline: GPUComputePipeline; params: Params; buffers: Binding[]; workgroups: [number, number?, number?] }
  | { kind: 'copy'; label: string; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; size: number };

class CaptureRecorder extends Recorder {
  readonly ops: CapturedOp[] = [];
  override dispatch(pipeline: GPUComputePipeline, p: Params, buffers: Binding[], workgroups: [number, number?, number?]): void {
    this.ops.push({ kind: 'dispatch', label: pipeline.label || 'dispatch', pipeline, params: p, buffers, workgroups });
    super.dispatch(pipeline, p, buffers, workgroups);
  }
  override copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.ops.push({ kind: 'copy', label: 'buffer copy', src, srcOffset, dst, dstOffset, size });
    super.copy(src, srcOffset, dst, dstOffset, size);
  }
}

const pipelineIds = new Map<GPUComputePipeline, number>();
/** Ops of one class do the same work on same-sized buffers (e.g. wq of every layer): same kernel, params, grid, sizes. */
function opClass(op: CapturedOp): string {
  if (op.kind === 'copy') return `copy ${op.size}`;
  if (!pipelineIds.has(op.pipeline)) pipelineIds.set(op.pipeline, pipelineIds.size + 1);
  const words = new DataView(new ArrayBuffer(op.params.byteLength));
  op.params.writeTo(words, 0);
  const sizes = op.buffers.map((b) => ('buffer' in b ? (b.size ?? b.buffer.size) : b.size));
  return `${op.label}#${pipelineIds.get(op.pipeline)} ${Array.from(new Uint32Array(words.buffer)).join(',')} [${op.workgroups.join('x')}] ${sizes.join(',')}`;
}

function replay(rec: Recorder, op: CapturedOp): void {
  if (op.kind === 'dispatch') rec.dispatch(op.pipeline, op.params, op.buffers, op.workgroups);
  else rec.copy(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
}

interface OverheadResult {
  /** How the kernels were timed: GPU timestamps around each dispatch, or (no timestamp-query) standalone repeats. */
  method: 'timestamp-query' | 'standalone repeats';
  ops: number;
  dispatches: number;
  /** Rounds of (real step, kernel timing), interleaved so both see the same background load. */
  rounds: number;
  /** Median JS time to record a step's forward pass (uniforms, bind groups, encoding). */
  recordMs: number;
  /** Median real decode step: record, submit, argmax, read the token back (what generation does per token). */
  stepMs: number;
  /** Median over rounds of the sum of the step's kernel times. */
  kernelSumMs: number;
  /** Timestamped replay: first dispatch start → last dispatch end (kernels + the gaps between them), and submit → readback. */
  replaySpanMs: number;
  replayWallMs: number;
  /** Per kernel label: ops per step and their time per step (in the median round). */
  byKernel: { kernel: string; ops: number; ms: number }[];
}

const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

/**
 * Replays captured ops in order in one command buffer, each dispatch in a compute pass of its own with
 * timestamp writes at its beginning and end (copies in between, untimed), and returns each dispatch's
 * duration in ms. Dawn quantizes timestamps (here to 65.5 µs); the errors average out over a step.
 */
function timestampReplayer(gpu: Gpu, ops: CapturedOp[]) {
  const dev = gpu.device;
  const dispatches = ops.filter((o) => o.kind === 'dispatch');
  const n = dispatches.length;
  const querySet = dev.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = dev.createBuffer({ size: 16 * n, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = dev.createBuffer({ size: 16 * n, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const uniforms = dev.createBuffer({ size: 256 * n, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const staging = new ArrayBuffer(256 * n);
  dispatches.forEach((o, i) => o.params.writeTo(new DataView(staging), 256 * i));
  dev.queue.writeBuffer(uniforms, 0, staging);
  const bindGroups = dispatches.map((o, i) => {
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: uniforms, offset: 256 * i, size: o.params.byteLength } }];
    o.buffers.forEach((b, j) => entries.push({ binding: j + 1, resource: 'buffer' in b ? b : { buffer: b } }));
    return dev.createBindGroup({ layout: o.pipeline.getBindGroupLayout(0), entries });
  });
  return {
    /** Per-dispatch ms; also the span from the first dispatch's start to the last one's end, and submit → mapped. */
    async run(): Promise<{ times: number[]; spanMs: number; wallMs: number }> {
      const enc = dev.createCommandEncoder({ label: 'timestamped step' });
      let q = 0;
      for (const op of ops) {
        if (op.kind === 'copy') {
          enc.copyBufferToBuffer(op.src, op.srcOffset, op.dst, op.dstOffset, op.size);
          continue;
        }
        const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * q, endOfPassWriteIndex: 2 * q + 1 } });
        pass.setPipeline(op.pipeline);
        pass.setBindGroup(0, bindGroups[q]!);
        pass.dispatchWorkgroups(op.workgroups[0], op.workgroups[1] ?? 1, op.workgroups[2] ?? 1);
        pass.end();
        q++;
      }
      enc.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, read, 0, 16 * n);
      const t0 = performance.now();
      dev.queue.submit([enc.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const wallMs = performance.now() - t0;
      const t = new BigUint64Array(read.getMappedRange().slice(0));
      read.unmap();
      const times = Array.from({ length: n }, (_, i) => Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
      return { times, spanMs: Number(t[2 * n - 1]! - t[0]!) / 1e6, wallMs };
    },
    destroy() {
      querySet.destroy();
      for (const b of [resolve, read, uniforms]) b.destroy();
    },
  };
}

/**
 * Kernel times of a step without timestamps: every op class (same kernel, params, grid and buffer sizes,
 * e.g. the 24 layers' wq matvecs) replayed alone — all its instances back to back in one recorder,
 * repeated — as the kernel bench times a kernel. Returns each dispatch's share in ms, in op order.
 */
async function standaloneTimes(gpu: Gpu, ops: CapturedOp[], minSeconds: number): Promise<number[]> {
  const classes = new Map<string, CapturedOp[]>();
  for (const op of ops) {
    if (op.kind !== 'dispatch') continue;
    const k = opClass(op);
    classes.set(k, [...(classes.get(k) ?? []), op]);
  }
  const each = new Map<CapturedOp, number>();
  for (const members of classes.values()) {
    const s = await timeRuns(gpu, (r) => members.forEach((op) => replay(r, op)), minSeconds);
    for (const op of members) each.set(op, (s * 1000) / members.length);
  }
  return ops.filter((o) => o.kind === 'dispatch').map((o) => each.get(o)!);
}

/**
 * Decode overhead. One decode step (forward of one token, greedy argmax, 4-byte readback) is captured op
 * by op as it runs; then, in `rounds` interleaved rounds, a real step is timed by the wall clock and the
 * captured step's kernels are timed on the GPU (timestamps around each dispatch; each replay recomputes
 * the same cache position, so it changes nothing). The ratio of the medians is the step's overhead over
 * its kernels: submit, readback, recording and any gaps between dispatches.
 */
async function measureOverhead(gpu: Gpu, session: Session, history: number[], rounds: number, minSeconds: number): Promise<OverheadResult> {
  const { model, selector } = session;
  const rng0 = new Random(0);
  const capture = new CaptureRecorder(gpu);
  model.forward(capture, [history[history.length - 1]!]);
  let token = await selector.select(capture, model.scratch.logits, GREEDY, history, rng0);
  const ops = capture.ops;
  const dispatches = ops.filter((o): o is Extract<CapturedOp, { kind: 'dispatch' }> => o.kind === 'dispatch');
  const timestamps = gpu.device.features.has('timestamp-query');
  const replayer = timestamps ? timestampReplayer(gpu, ops) : undefined;
  rounds = Math.max(1, Math.min(rounds, model.cache.contextLength - model.cache.length));
  const steps: number[] = [];
  const records: number[] = [];
  const sums: number[] = [];
  const spans: number[] = [];
  const walls: number[] = [];
  const perRound: number[][] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const rec = new Recorder(gpu);
      const t0 = performance.now();
      model.forward(rec, [token]);
      records.push(performance.now() - t0);
      token = await selector.select(rec, model.scratch.logits, GREEDY, history, rng0);
      steps.push(performance.now() - t0);
      const { times, spanMs, wallMs } = replayer ? await replayer.run() : { times: await standaloneTimes(gpu, ops, minSeconds), spanMs: NaN, wallMs: NaN };
      perRound.push(times);
      sums.push(times.reduce((a, b) => a + b, 0));
      spans.push(spanMs);
      walls.push(wallMs);
      if (!replayer) break; // standalone timing is long; one round
    }
    await gpu.checkErrors();
  } finally {
    replayer?.destroy();
    session.reset(); // the steps here bypassed the session's bookkeeping
  }
  // The breakdown comes from the round whose sum is the median, so it adds up to kernelSumMs.
  const perOp = perRound[sums.indexOf(median(sums))]!;
  const byKernel = new Map<string, { ops: number; ms: number }>();
  dispatches.forEach((o, i) => {
    const k = byKernel.get(o.label) ?? { ops: 0, ms: 0 };
    k.ops++;
    k.ms += perOp[i]!;
    byKernel.set(o.label, k);
  });
  return {
    method: timestamps ? 'timestamp-query' : 'standalone repeats',
    ops: ops.length,
    dispatches: dispatches.length,
    rounds: steps.length,
    recordMs: median(records),
    stepMs: median(steps),
    kernelSumMs: median(sums),
    replaySpanMs: median(spans),
    replayWallMs: median(walls),
    byKernel: [...byKernel].map(([kernel, v]) => ({ kernel, ...v })).sort((a, b) => b.ms - a.ms),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Per model

interface ModelSpec {
  name: string;
  path: string;
  prompt: number[];
  /** Same length, other tokens: the warm-up run's prompt. */
  warmPrompt: number[];
  decode: number;
  /** Interleaved rounds of the overhead measurement. */
  overheadRounds: number;
  /** Per op class, when timing without timestamp-query, seconds. */
  opSeconds: number;
  note?: string;
}

interface EngineResult {
  loadSeconds: number;
  /** TTFT of the warm-up run (pipeline compilation included), for comparison with the measured one. */
  warmupTtftMs: number;
  info: { weightBytes: number; kvCacheBytes: number; contextLength: number; precision: string; weightTypes: Record<string, number> };
  run: RunTimes;
  memory: { peakGpuBytes: number; liveAfterLoadBytes: number; ratio: number; atPeak: { byKind: Record<string, number>; byLabel: Record<string, number> } };
  heap: {
    baseline: { objects: number; buffers: number };
    metadata: number; afterLoad: number; peakUpload: number; transient: number; transientBuffers: number;
    maxRawAboveBaseline: number; rssGrowth: number; liveSamples: number; chunkBytes: number;
  };
  overhead?: OverheadResult & { itlP50Ms: number; ratio: number };
}

interface LlamaResult {
  loadSeconds: number;
  threads: number;
  contextSize: number;
  run: RunTimes;
}

interface ModelResult {
  name: string;
  file: string;
  fileBytes: number;
  note?: string;
  engine: EngineResult;
  llamaCpp?: LlamaResult;
  /** Leading greedy tokens on which both engines agree (out of those compared). */
  agreement?: { same: number; of: number };
}

async function benchEngine(injected: GPU, spec: ModelSpec, url: string, o: Options): Promise<EngineResult> {
  const gpu = await acquireGpu({ gpu: injected });
  const allocations = trackAllocations(gpu);
  let llm: LanguageModel | undefined;
  try {
    const mem = new LoadMemory();
    const t0 = performance.now();
    try {
      llm = await loadModel({ url, gpu, onProgress: (e) => mem.progress(e.phase, e.loadedBytes, e.totalBytes) });
    } finally {
      mem.finish();
    }
    const loadSeconds = (performance.now() - t0) / 1000;
    const liveAfterLoadBytes = gpu.allocator.liveBytes;
    // Bench-only access to the session behind completions.create, to stamp each token as the loop makes it.
    const session = (llm as unknown as { parts: { session: Session } }).parts.session;

    // Warm-up: a prompt of the same length (same prefill tiles and pipelines) and a couple of decode steps.
    const warm = await engineRun(session, spec.warmPrompt, 1, 1);
    const run = await engineRun(session, spec.prompt, spec.decode, o.warmupSteps);
    const peakGpuBytes = gpu.allocator.peakBytes;
    const atPeak = allocations.atPeak();
    const { weightBytes, kvCacheBytes, contextLength, precision, weightTypes } = llm.info;

    let overhead: EngineResult['overhead'];
    if (o.overhead) {
      // The cache holds the prompt and every generated token but the last: the next step, where the
      // measured ones left off, is the one captured.
      const history = [...spec.prompt, ...run.tokens];
      const r = await measureOverhead(gpu, session, history, spec.overheadRounds, spec.opSeconds);
      overhead = { ...r, itlP50Ms: run.p50, ratio: r.stepMs / r.kernelSumMs };
    }
    return {
      loadSeconds,
      warmupTtftMs: warm.ttftMs,
      info: { weightBytes, kvCacheBytes, contextLength, precision, weightTypes },
      run,
      memory: { peakGpuBytes, liveAfterLoadBytes, ratio: peakGpuBytes / (weightBytes + kvCacheBytes), atPeak },
      heap: {
        baseline: mem.baseline,
        metadata: total(mem.afterMetadata) - total(mem.baseline),
        afterLoad: total(mem.afterLoad) - total(mem.baseline),
        peakUpload: total(mem.peakUpload) - total(mem.baseline),
        // Bytes held during the upload beyond what stays (metadata, tokenizer and the loaded model's own objects):
        transient: total(mem.peakUpload) - Math.max(total(mem.afterMetadata), total(mem.afterLoad)),
        transientBuffers: mem.peakUpload.buffers - Math.max(mem.afterMetadata.buffers, mem.afterLoad.buffers),
        maxRawAboveBaseline: mem.maxRaw - total(mem.baseline),
        rssGrowth: mem.maxRss - mem.baselineRss,
        liveSamples: mem.liveSamples,
        chunkBytes: CHUNK_BYTES,
      },
      overhead,
    };
  } finally {
    await llm?.unload();
    gpu.destroy();
  }
}

async function benchLlamaCpp(spec: ModelSpec, contextSize: number, o: Options): Promise<LlamaResult> {
  const cpp = await openLlamaCppCpu(spec.path, contextSize, o.threads);
  const { context, loadSeconds } = cpp;
  try {
    const seq = context.getSequence();
    const run = async (prompt: number[], decode: number, warmupSteps: number) => {
      const { t, stamps, tokens } = await timedGreedy(seq, prompt, 1 + warmupSteps + decode);
      return runTimes(t, stamps, prompt.length, warmupSteps, tokens);
    };
    await run(spec.warmPrompt, 1, 1);
    return { loadSeconds, threads: o.threads, contextSize: context.contextSize, run: await run(spec.prompt, spec.decode, o.warmupSteps) };
  } finally {
    await cpp.dispose();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Main

export async function main({ gpu: injected, args }: { gpu: GPU; args: string[] }): Promise<void> {
  const o = parseOptions(args);
  const started = performance.now();
  const loadBefore = loadavg();
  const probe = await acquireGpu({ gpu: injected });
  const a = probe.caps.adapter;
  const adapter = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'unknown adapter';
  const software = a.isFallbackAdapter;
  const timestamps = probe.device.features.has('timestamp-query');
  probe.destroy();
  console.log(`adapter: ${adapter}${software ? ' (software)' : ''}; llama.cpp: CPU, ${o.threads} threads`);

  const heldout = JSON.parse(readFileSync(`${FIXTURE_DIR}reference/heldout_ids.json`, 'utf8')) as number[];
  const fixturePrompt = heldout.slice(0, o.fixturePrompt);
  const fixtureWarm = heldout.slice(1000, 1000 + o.fixturePrompt - 1);
  const specs: ModelSpec[] = ['q4_0', 'q4_k_m'].map((v) => ({
    name: `fortunes-1.8m ${v}`,
    path: `${FIXTURE_DIR}fortunes-1.8m-${v}.gguf`,
    prompt: fixturePrompt,
    warmPrompt: [heldout[0]!, ...fixtureWarm],
    decode: o.fixtureDecode,
    overheadRounds: 15,
    opSeconds: 0.2,
  }));
  let writeSeconds: number | undefined;
  const syntheticName = 'synthetic qwen2-0.5b-shape q4_0';
  if (!o.only || o.only.test(syntheticName)) {
    const s = syntheticModelPath();
    writeSeconds = s.writeSeconds;
    const r = rng(7);
    const ids = (n: number) => Array.from({ length: n }, () => Math.floor(r() * QWEN05.vocab));
    specs.push({
      name: syntheticName,
      path: s.path,
      prompt: ids(o.prompt),
      warmPrompt: ids(o.prompt),
      decode: o.decode,
      overheadRounds: 9,
      opSeconds: 0.3,
      note: 'random weights, layer shapes of Qwen2-0.5B (24 layers, d 896, 14/2 heads of 64, ffn 4864, vocab 151936, tied head); ' +
        `Q4_0 with the embedding/head in Q8_0 and ffn_down in Q6_K. Written once by this bench (streamed to disk, a block of rows at a time) and reused from bench/.cache/` +
        (writeSeconds !== undefined ? `; writing it took ${writeSeconds.toFixed(0)} s${s.writtenNow ? ' in this run' : ' when it was made'}` : ''),
    });
  }
  // What users download: llama.cpp's own Q4_K_M of the same shapes. Width 896 is not a multiple of 256, so
  // llama.cpp falls back per tensor (Q4_K → Q5_0, Q6_K → Q8_0) and the file is mostly Q5_0.
  const publishedName = 'synthetic qwen2-0.5b-shape Q4_K_M (llama.cpp quantizer)';
  if (!o.only || o.only.test(publishedName)) {
    const base = syntheticModelPath();
    const t0 = performance.now();
    const path = quantizeWithLlamaCpp(base.path, 'Q4_K_M', { requantize: true });
    const r = rng(7);
    const ids = (n: number) => Array.from({ length: n }, () => Math.floor(r() * QWEN05.vocab));
    specs.push({
      name: publishedName,
      path,
      prompt: ids(o.prompt),
      warmPrompt: ids(o.prompt),
      decode: o.decode,
      overheadRounds: 9,
      opSeconds: 0.3,
      note: `the synthetic model above requantized by llama.cpp's llama_model_quantize to Q4_K_M (test/reference/llamacpp_quantize.ts; ` +
        `cached under the OS temp folder, ${((performance.now() - t0) / 1000).toFixed(0)} s in this run): the per-tensor mix a published Q4_K_M of a width-896 model has`,
    });
  }
  const chosen = specs.filter((s) => !o.only || o.only.test(s.name));
  const server = await serveFiles(new Map(chosen.map((s) => [s.name, s.path])));
  const results: ModelResult[] = [];
  try {
    for (const spec of chosen) {
      console.log(`\n${spec.name}: prompt ${spec.prompt.length} tokens, ${spec.decode} measured decode steps after ${o.warmupSteps} warm-up steps`);
      const engine = await benchEngine(injected, spec, server.url(spec.name), o);
      console.log(formatEngine(engine));
      const result: ModelResult = { name: spec.name, file: spec.path.replace(/^.*\/(shared|bench)\//, '$1/'), fileBytes: statSync(spec.path).size, note: spec.note, engine };
      if (o.llamaCpp) {
        result.llamaCpp = await benchLlamaCpp(spec, engine.info.contextLength, o);
        console.log(formatRun('llama.cpp', result.llamaCpp.run) + `  (load ${result.llamaCpp.loadSeconds.toFixed(2)} s)`);
        const ours = engine.run.tokens;
        const theirs = result.llamaCpp.run.tokens;
        const of = Math.min(ours.length, theirs.length);
        let same = 0;
        while (same < of && ours[same] === theirs[same]) same++;
        result.agreement = { same, of };
      }
      results.push(result);
    }
  } finally {
    server.close();
  }
  const totalSeconds = (performance.now() - started) / 1000;
  const partial = o.only !== undefined || args.some((x) => /^--(prompt|decode|fixture-|warmup|threads|no-)/.test(x));
  writeResults({ adapter, software, timestamps, options: o, results, totalSeconds, writeSeconds, load: { cpus: availableParallelism(), before: loadBefore, after: loadavg() } }, partial);
}

// ---------------------------------------------------------------------------------------------------------
// Output

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const tps = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

function formatRun(who: string, r: RunTimes): string {
  return `  ${who.padEnd(10)} prefill ${tps(r.prefillTps)} tok/s, TTFT ${ms(r.ttftMs)} ms, decode ${tps(r.decodeTps)} tok/s, ITL p50/p90/p99 ${ms(r.p50)}/${ms(r.p90)}/${ms(r.p99)} ms (${r.itl.length} steps)`;
}

function formatEngine(e: EngineResult): string {
  const lines = [formatRun('inpage', e.run) + `  (load ${e.loadSeconds.toFixed(2)} s; warm-up TTFT ${ms(e.warmupTtftMs)} ms)`];
  lines.push(`  GPU memory: peak ${mib(e.memory.peakGpuBytes)} vs weights ${mib(e.info.weightBytes)} + KV ${mib(e.info.kvCacheBytes)} (ctx ${e.info.contextLength}) = ${e.memory.ratio.toFixed(3)}×`);
  const h = e.heap;
  lines.push(`  JS during load (above baseline): metadata ${mib(h.metadata)}, loaded ${mib(h.afterLoad)}, upload peak ${mib(h.peakUpload)} → transient ${mib(h.transient)} (buffers ${mib(h.transientBuffers)}) vs chunk ${mib(h.chunkBytes)}; raw max ${mib(h.maxRawAboveBaseline)}`);
  if (e.overhead) {
    const v = e.overhead;
    lines.push(`  decode overhead (${v.method}, ${v.rounds} rounds): step ${ms(v.stepMs)} ms vs Σ kernels ${ms(v.kernelSumMs)} ms = ${v.ratio.toFixed(2)}× (${v.dispatches} dispatches + ${v.ops - v.dispatches} copies; replay span ${ms(v.replaySpanMs)} ms, submit→readback ${ms(v.replayWallMs)} ms; recording ${ms(v.recordMs)} ms; generation ITL p50 ${ms(v.itlP50Ms)} ms)`);
    lines.push(`    ${v.byKernel.map((k) => `${k.kernel} ×${k.ops} ${ms(k.ms)} ms`).join(', ')}`);
  }
  return lines.join('\n');
}

interface Report {
  adapter: string;
  software: boolean;
  timestamps: boolean;
  options: Options;
  results: ModelResult[];
  totalSeconds: number;
  writeSeconds?: number;
  /** The machine's load averages (1, 5, 15 min) before and after the run, and its CPU count. */
  load: { cpus: number; before: number[]; after: number[] };
}

function writeResults(rep: Report, partial: boolean): void {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const name = partial ? 'llm-partial' : 'llm';
  const when = new Date().toISOString();
  const o = rep.options;
  writeFileSync(new URL(`${name}.json`, dir), JSON.stringify({ when, ...rep, options: { ...o, only: o.only?.source } }, null, 2));
  const yes = (ok: boolean) => (ok ? 'met' : '**not met**');
  const L: string[] = [
    '# End-to-end LLM benchmarks',
    '',
    `Written by \`npm run bench:llm\` on ${when} (whole run: ${(rep.totalSeconds / 60).toFixed(1)} min). Adapter: ${rep.adapter}${rep.software ? ' (software)' : ''}. llama.cpp: node-llama-cpp's prebuilt CPU binary, ${o.threads} threads, same file, same prompt token ids, in the same run.`,
    '',
    rep.software
      ? `> **SwiftShader**: our "GPU" here is a software Vulkan driver on the CPU (${rep.load.cpus} cores, shared with other work: load average ${rep.load.before[0]!.toFixed(1)} at the start, ${rep.load.after[0]!.toFixed(1)} at the end), so absolute figures say nothing about a real GPU; only ratios between measurements taken in this run mean anything, and on a loaded machine even those move by tens of percent from run to run. llama.cpp runs on the same cores, so the comparison is CPU against software GPU, not a verdict on either.`
      : `> Absolute figures depend on this adapter; ratios between measurements in this run are the comparable part. Load average ${rep.load.before[0]!.toFixed(1)} → ${rep.load.after[0]!.toFixed(1)} on ${rep.load.cpus} cores.`,
    '',
    `Method: greedy decoding (temperature 0), end-of-sequence ignored so every run makes the same number of tokens. Each engine first runs a warm-up generation (a prompt of the same length, other tokens); in the measured run the first ${o.warmupSteps} decode steps are also excluded from decode tok/s and the inter-token latencies (ITL, nearest-rank percentiles — with few steps, p99 is the slowest step). TTFT runs from the request to the first token being known on the CPU; prefill tok/s = prompt tokens / TTFT. Our engine is timed through Session.generate (the loop behind completions.create), loading from a URL served with Range requests by a child process. The synthetic model's prompt is short because SwiftShader runs a prefill token about as slowly as a decode step (\`--prompt\`, \`--decode\`, \`--fixture-prompt\`, \`--fixture-decode\` change the sizes).`,
    '',
    '## Throughput and latency',
    '',
    '| model | engine | prompt | prefill tok/s | TTFT ms | decode tok/s | ITL p50 ms | ITL p90 ms | ITL p99 ms | steps | load s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const row = (m: string, who: string, r: RunTimes, load: number) =>
    `| ${m} | ${who} | ${r.promptTokens} | ${tps(r.prefillTps)} | ${ms(r.ttftMs)} | ${tps(r.decodeTps)} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${r.itl.length} | ${load.toFixed(2)} |`;
  for (const r of rep.results) {
    L.push(row(r.name, 'inpage (WebGPU)', r.engine.run, r.engine.loadSeconds));
    if (r.llamaCpp) {
      L.push(row(r.name, 'llama.cpp (CPU)', r.llamaCpp.run, r.llamaCpp.loadSeconds));
      const e = r.engine.run;
      const l = r.llamaCpp.run;
      L.push(`| ${r.name} | *inpage ÷ llama.cpp* | | ${(e.prefillTps / l.prefillTps).toFixed(2)}× | ${(e.ttftMs / l.ttftMs).toFixed(2)}× | ${(e.decodeTps / l.decodeTps).toFixed(2)}× | ${(e.p50 / l.p50).toFixed(2)}× | | | | |`);
    }
  }
  const agreements = rep.results.filter((r) => r.agreement);
  if (agreements.length) {
    L.push('', `Greedy tokens in common with llama.cpp (leading run): ${agreements.map((r) => `${r.name} ${r.agreement!.same}/${r.agreement!.of}`).join('; ')}. (llama.cpp quantizes activations to 8 bits for quantized weights, so long greedy runs may part; on random weights near-ties make that likely.)`);
  }

  L.push('', '## Decode overhead (target: time per token ≤ 1.25 × the sum of its kernels\' times, i.e. dispatch and readback overhead ≤ 25%)', '');
  L.push('One decode step (forward of one token + greedy argmax + the 4-byte token readback) is captured op by op while it runs, at the context position the measured generation reached. Then, in interleaved rounds (so both halves see the same background load on the shared cores), a real step is timed by the wall clock — recording, submit, GPU work, readback, exactly what generation does per token — and the captured step\'s kernels are timed on the GPU: the step replayed in order with each dispatch in a compute pass of its own, bracketed by timestamp queries (Dawn quantizes them to 65.5 µs; the errors average out over a step). Σ kernels is the sum of those per-dispatch durations (the few buffer copies — K/V appends, last row — count as overhead). The ratio is median step ÷ median Σ kernels. Without timestamp-query the bench falls back to timing each op class alone with the kernel bench\'s repeat loop.', '');
  L.push('| model | step ms (median) | Σ kernels ms | ratio | target | generation ITL p50 ms | dispatches | copies | JS recording ms | rounds | method |', '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rep.results) {
    const v = r.engine.overhead;
    if (!v) continue;
    L.push(`| ${r.name} | ${ms(v.stepMs)} | ${ms(v.kernelSumMs)} | ${v.ratio.toFixed(2)}× | ${yes(v.ratio <= 1.25)} | ${ms(v.itlP50Ms)} | ${v.dispatches} | ${v.ops - v.dispatches} | ${ms(v.recordMs)} | ${v.rounds} | ${v.method} |`);
  }
  for (const r of rep.results) {
    const v = r.engine.overhead;
    if (!v) continue;
    L.push('', `Kernel time per decode step, ${r.name}:`, '', '| kernel | dispatches | ms | share |', '| --- | ---: | ---: | ---: |');
    const sum = v.byKernel.reduce((a, k) => a + k.ms, 0);
    for (const k of v.byKernel) L.push(`| ${k.kernel} | ${k.ops} | ${ms(k.ms)} | ${((k.ms / sum) * 100).toFixed(1)}% |`);
  }

  L.push('', '## Memory (targets: peak GPU ≤ 1.1 × (packed weights + KV cache); JS heap during load ≤ one streamed chunk + the metadata)', '');
  L.push('Peak GPU bytes: the allocator\'s peak (every storage and uniform buffer the engine creates) from the start of loading through generation, on a device of its own. Weights: packed bytes as stored in the file (the tied head counted once) — also what one decode step reads. No f32 copy of any weight exists: the peak would then exceed the packed size several times over.', '');
  L.push('| model | weights (read per token) | KV cache (ctx) | weights + KV | peak GPU | ratio | target |', '| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of rep.results) {
    const e = r.engine;
    L.push(`| ${r.name} | ${mib(e.info.weightBytes)} | ${mib(e.info.kvCacheBytes)} (${e.info.contextLength}) | ${mib(e.info.weightBytes + e.info.kvCacheBytes)} | ${mib(e.memory.peakGpuBytes)} | ${e.memory.ratio.toFixed(3)}× | ${yes(e.memory.ratio <= 1.1)} |`);
  }
  L.push('', `JS memory (V8 heapUsed + ArrayBuffers, live after a forced GC) while loading from a URL served by a child process: growth over the pre-load baseline once the metadata is parsed and the tokenizer built, after the load (metadata + the loaded model's own objects), and at the upload sample with the most live memory (taken every 16 MiB, inside the progress callback, while the chunk just uploaded is still referenced). *Transient* = that peak − the larger of the two resting levels: what streaming holds beyond what stays, to compare with the ${mib(CHUNK_BYTES)} chunk; the *buffers* part of it is ArrayBuffer bytes (the chunk and the HTTP client's stream buffers). The target check allows ${TRANSPORT_ALLOWANCE >> 10} KiB beyond the chunk for those stream buffers (a few 64 KiB socket reads queued in the fetch body) and small per-tensor objects. *Raw* is the highest unforced sample (every ms and at every chunk), garbage not yet collected included. RSS growth includes SwiftShader's "GPU" buffers, which live in host memory.`, '');
  L.push('| model | file | metadata | after load | upload peak | transient (buffers) | chunk | target | raw max | RSS growth |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
  for (const r of rep.results) {
    const h = r.engine.heap;
    L.push(`| ${r.name} | ${mib(r.fileBytes)} | ${mib(h.metadata)} | ${mib(h.afterLoad)} | ${mib(h.peakUpload)} | ${mib(h.transient)} (${mib(h.transientBuffers)}) | ${mib(h.chunkBytes)} | ${yes(h.transient <= h.chunkBytes + TRANSPORT_ALLOWANCE)} | ${mib(h.maxRawAboveBaseline)} | ${mib(h.rssGrowth)} |`);
  }
  L.push('', 'GPU memory at the peak, by kind (MiB):', '', '| model | ' + KINDS.join(' | ') + ' | largest others |', '| --- |' + KINDS.map(() => ' ---: |').join('') + ' --- |');
  for (const r of rep.results) {
    const p = r.engine.memory.atPeak;
    const others = Object.entries(p.byLabel).filter(([k]) => k !== 'weights' && k !== 'kv cache').sort((x, y) => y[1] - x[1]).slice(0, 5);
    L.push(`| ${r.name} | ${KINDS.map((k) => ((p.byKind[k] ?? 0) / 2 ** 20).toFixed(2)).join(' | ')} | ${others.map(([k, v]) => `${k} ${(v / 2 ** 20).toFixed(2)}`).join(', ')} |`);
  }
  L.push('', '## Models', '');
  for (const r of rep.results) L.push(`- **${r.name}**: \`${r.file}\` (${mib(r.fileBytes)}; weight types ${Object.entries(r.engine.info.weightTypes).map(([t, n]) => `${t}×${n}`).join(', ')}; activations ${r.engine.info.precision})${r.note ? `: ${r.note}` : ''}.`);
  L.push('');
  writeFileSync(new URL(`${name}.md`, dir), L.join('\n'));
  console.log(`\nwrote bench/results/${name}.md (whole run ${(rep.totalSeconds / 60).toFixed(1)} min)`);
}
