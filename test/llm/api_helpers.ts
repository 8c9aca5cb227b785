/**
 * Test-side references for test/llm/api.test.ts, written here from llama.cpp's definitions and sharing no
 * code with src/: a byte-level BPE detokenizer over the vocabulary the reference GGUF reader returns,
 * greedy decoding with llama.cpp's penalties over the exact reference's logits, llama.cpp's default
 * sampler chain (top_k → top_p → min_p → temperature) as probabilities, a chi-square check, a local
 * HTTP server with Range support that counts the bytes it serves, and a ChatML variant of the fixture.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gpt2ByteToUnicode, gv, writeGguf, type MetaValue } from '../reference/gguf_writer';
import { readGguf } from '../reference/gguf_reader';
import type { Reference } from '../reference/llama_ref';

/** GGUF token type CONTROL (llama.h): dropped from detokenized text unless asked for. */
const CONTROL = 3;

/**
 * Detokenizer for byte-level BPE vocabularies (GPT-2 byte↔unicode mapping), from the file's own token
 * strings as the independent reader parsed them. Control tokens are dropped (llama.cpp's detokenize with
 * special = false) unless `keepControl`.
 */
export function byteLevelDecoder(ref: Reference): (ids: readonly number[], keepControl?: boolean) => string {
  const tokens = ref.gguf.metadata.get('tokenizer.ggml.tokens') as string[];
  const types = (ref.gguf.metadata.get('tokenizer.ggml.token_type') as number[] | undefined) ?? [];
  const toByte = new Map(gpt2ByteToUnicode().map((ch, b) => [ch, b]));
  const utf8 = new TextDecoder();
  return (ids, keepControl = false) => {
    let text = '';
    let bytes: number[] = [];
    const flush = () => {
      text += utf8.decode(new Uint8Array(bytes));
      bytes = [];
    };
    for (const id of ids) {
      const piece = tokens[id]!;
      if (Number(types[id]) === CONTROL) {
        if (keepControl) {
          flush();
          text += piece;
        }
        continue;
      }
      for (const ch of piece) {
        const b = toByte.get(ch);
        if (b === undefined) throw new Error(`token ${id} (${JSON.stringify(piece)}) has a character outside the byte alphabet`);
        bytes.push(b);
      }
    }
    flush();
    return text;
  };
}

export interface Penalties {
  repeat: number;
  frequency: number;
  presence: number;
  lastN: number;
}

/**
 * llama.cpp's penalties sampler (llama_sampler_penalties_apply) on one logits row: for each distinct token
 * among the last `lastN` tokens of the sequence (prompt included, as llama-server accepts prompt tokens into
 * its sampler) with count c:
 *   logit = logit <= 0 ? logit * repeat : logit / repeat;
 *   logit -= c * frequency + (c > 0) * presence;
 */
export function applyPenalties(row: Float64Array, history: readonly number[], p: Penalties): Float64Array {
  const out = row.slice();
  const window = p.lastN < 0 ? history : p.lastN === 0 ? [] : history.slice(-p.lastN);
  const counts = new Map<number, number>();
  for (const t of window) counts.set(t, (counts.get(t) ?? 0) + 1);
  for (const [t, c] of counts) {
    let l = out[t]!;
    l = l <= 0 ? l * p.repeat : l / p.repeat;
    l -= c * p.frequency + (c > 0 ? 1 : 0) * p.presence;
    out[t] = l;
  }
  return out;
}

/** argmax, ties to the lowest id (as the reference's greedy). */
export function argmaxOf(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/**
 * Greedy continuation on the exact reference, with llama.cpp's penalties (when given) applied before each
 * argmax, stopping after n tokens or at any id in `stopIds` (which is included in the result).
 */
export function referenceGreedy(ref: Reference, prompt: readonly number[], n: number, stopIds: readonly number[], penalties?: Penalties): number[] {
  const s = ref.session();
  let row!: Float64Array;
  for (const t of prompt) row = s.step(t);
  const history = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const next = argmaxOf(penalties ? applyPenalties(row, history, penalties) : row);
    out.push(next);
    if (stopIds.includes(next)) break;
    history.push(next);
    if (i + 1 < n) row = s.step(next);
  }
  return out;
}

/**
 * llama.cpp's default chain on a full logits row, as probabilities: top_k (0 = off), then top_p over the
 * softmax of the survivors (keep the smallest prefix whose mass reaches top_p), then min_p (p ≥ min_p·p_max),
 * then softmax(logit / temperature) over what is left. Returns survivors sorted by logit, descending.
 */
export function samplingDistribution(
  row: ArrayLike<number>,
  o: { topK: number; topP: number; minP: number; temperature: number },
): { ids: number[]; probs: number[] } {
  let ids = Array.from({ length: row.length }, (_, i) => i).sort((a, b) => row[b]! - row[a]! || a - b);
  if (o.topK > 0) ids = ids.slice(0, o.topK);
  const softmax = (xs: number[], t = 1) => {
    const m = Math.max(...xs);
    const w = xs.map((x) => Math.exp((x - m) / t));
    const z = w.reduce((a, b) => a + b, 0);
    return w.map((x) => x / z);
  };
  if (o.topP < 1) {
    const p = softmax(ids.map((i) => row[i]!));
    let cum = 0;
    let keep = ids.length;
    for (let i = 0; i < p.length; i++) {
      cum += p[i]!;
      if (cum >= o.topP) {
        keep = i + 1;
        break;
      }
    }
    ids = ids.slice(0, keep);
  }
  if (o.minP > 0) {
    const p = softmax(ids.map((i) => row[i]!));
    ids = ids.filter((_, k) => p[k]! >= o.minP * p[0]!);
  }
  return { ids, probs: softmax(ids.map((i) => row[i]!), o.temperature) };
}

/** Upper 0.001 quantiles of the chi-square distribution, by degrees of freedom (1..12). */
const CHI2_999 = [10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264, 32.909];

/**
 * Pearson's chi-square of observed counts against expected probabilities; categories with an expected
 * count below 5 are pooled (with each other) as the test requires. Returns the statistic, the degrees of
 * freedom, and the critical value at p = 0.001.
 */
export function chiSquare(observed: number[], probs: number[]): { stat: number; dof: number; critical: number } {
  const n = observed.reduce((a, b) => a + b, 0);
  const bins: { o: number; e: number }[] = [];
  const pooled = { o: 0, e: 0 };
  observed.forEach((o, i) => {
    const e = probs[i]! * n;
    if (e >= 5) bins.push({ o, e });
    else {
      pooled.o += o;
      pooled.e += e;
    }
  });
  if (pooled.e > 0) bins.push(pooled);
  const stat = bins.reduce((s, b) => s + (b.o - b.e) ** 2 / b.e, 0);
  const dof = bins.length - 1;
  if (dof < 1 || dof > CHI2_999.length) throw new Error(`chi-square: ${dof} degrees of freedom is outside the table`);
  return { stat, dof, critical: CHI2_999[dof - 1]! };
}

/** A local HTTP server for `bytes` that answers Range requests with 206 (404 for any other path). */
export interface RangeServer {
  url: string;
  /** Body bytes sent so far. */
  served: number;
  /** Every request's Range header ('' when none). */
  ranges: string[];
  close(): Promise<void>;
}

export async function serveBytes(bytes: Uint8Array, path = '/model.gguf'): Promise<RangeServer> {
  const state = { served: 0, ranges: [] as string[] };
  const server: Server = createServer((req, res) => {
    if (req.url !== path) {
      res.writeHead(404).end();
      return;
    }
    const range = req.headers.range ?? '';
    state.ranges.push(range);
    const m = range.match(/^bytes=(\d+)-(\d*)$/);
    if (!m) {
      state.served += bytes.length;
      res.writeHead(200, { 'Content-Length': bytes.length }).end(bytes);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : bytes.length - 1, bytes.length - 1);
    if (start >= bytes.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` }).end();
      return;
    }
    const body = bytes.subarray(start, end + 1);
    state.served += body.length;
    res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    get served() {
      return state.served;
    },
    ranges: state.ranges,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Rejects with a plain Error naming `what` if `p` does not settle within `ms` (so a hang fails fast). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms (hung)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Qwen2-Instruct's chat template (ChatML with a default system message), verbatim. */
export const QWEN2_CHAT_TEMPLATE =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/**
 * A trained model with a real ChatML template and `<|im_start|>` / `<|im_end|>` as control tokens: the
 * fixture file rewritten by the test writer, its last two merge tokens (just below EOS) renamed to the
 * ChatML markers (their merges dropped) and `tokenizer.chat_template` added. Synthetic random-weight models
 * would do for the template, but their greedy continuations collapse to one repeated token whatever the
 * prompt, so they cannot show that the engine ran the right prompt ids; a trained model's can.
 */
export function chatMlModel(path: string, template = QWEN2_CHAT_TEMPLATE): { bytes: Uint8Array; imStart: number; imEnd: number } {
  const g = readGguf(path);
  const tokens = [...(g.metadata.get('tokenizer.ggml.tokens') as string[])];
  const types = (g.metadata.get('tokenizer.ggml.token_type') as number[]).map(Number);
  const eos = Number(g.metadata.get('tokenizer.ggml.eos_token_id'));
  const imStart = eos - 2;
  const imEnd = eos - 1;
  const renamed = new Set([tokens[imStart]!, tokens[imEnd]!]);
  tokens[imStart] = '<|im_start|>';
  tokens[imEnd] = '<|im_end|>';
  types[imStart] = CONTROL;
  types[imEnd] = CONTROL;
  const merges = (g.metadata.get('tokenizer.ggml.merges') as string[]).filter((m) => {
    const [a = '', b = ''] = m.split(' ');
    return !renamed.has(a + b) && !renamed.has(a) && !renamed.has(b);
  });
  const metadata: Record<string, MetaValue> = {};
  for (const [k, v] of g.metadata) metadata[k] = v as MetaValue;
  const arch = String(g.metadata.get('general.architecture'));
  for (const k of [`${arch}.rope.freq_base`, `${arch}.attention.layer_norm_rms_epsilon`]) {
    if (g.metadata.has(k)) metadata[k] = gv.f32(Number(g.metadata.get(k)));
  }
  metadata['tokenizer.ggml.tokens'] = gv.array('string', tokens);
  metadata['tokenizer.ggml.token_type'] = gv.array('i32', types);
  metadata['tokenizer.ggml.merges'] = gv.array('string', merges);
  metadata['tokenizer.chat_template'] = gv.string(template);
  const tensors = g.tensorList.map((t) => ({ name: t.name, dims: t.dims, type: t.typeId, data: t.data }));
  return { bytes: writeGguf({ metadata, tensors, alignment: g.alignment }).bytes, imStart, imEnd };
}
