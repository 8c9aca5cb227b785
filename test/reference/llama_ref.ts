/**
 * The EXACT reference for tests: a plain float64 forward pass of GGUF `llama` and `qwen2` models on the
 * CPU. Weights are dequantized per the GGUF spec (./ggml_quants), activations stay float64 throughout —
 * unlike llama.cpp's CPU path, which quantizes activations to 8 bits for quantized weights. Written from
 * llama.cpp's graph (llm_build_llama / llm_build_qwen2) and ggml's rope/rms_norm definitions; shares no
 * code with src/ (its own GGUF reader, its own hyperparameter reading). Clear over fast; K/V are cached
 * so a prefix is never recomputed.
 */
import { dequantizeMatrix, dequantizeRow } from './ggml_quants';
import { readGguf, type RefGguf, type RefTensor, type RefValue } from './gguf_reader';

export interface RefConfig {
  arch: 'llama' | 'qwen2';
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dFf: number;
  ropeDim: number;
  ropeBase: number;
  /** 'pairs': (x[2i], x[2i+1]) as ggml's normal rope; 'halves': (x[i], x[i + ropeDim/2]) as NeoX. */
  ropeStyle: 'pairs' | 'halves';
  rmsEps: number;
  nVocab: number;
  contextLength: number;
  /** llama.cpp's freq_scale: 1 / `rope.scaling.factor` (or `rope.scale_linear`), else 1. */
  ropeFreqScale: number;
  /** `rope_freqs.weight` (Llama 3.1-style): frequency i is divided by factor i. */
  ropeFreqFactors?: Float64Array;
}

/** A rows × cols weight matrix (out × in), row-major, float64. */
interface Matrix {
  rows: number;
  cols: number;
  w: Float64Array;
}

interface Layer {
  attnNorm: Float64Array;
  wq: Matrix;
  wk: Matrix;
  wv: Matrix;
  bq?: Float64Array;
  bk?: Float64Array;
  bv?: Float64Array;
  wo: Matrix;
  ffnNorm: Float64Array;
  wGate: Matrix;
  wUp: Matrix;
  wDown: Matrix;
}

function num(meta: Map<string, RefValue>, key: string, fallback?: number): number {
  const v = meta.get(key);
  if (v === undefined) {
    if (fallback === undefined) throw new Error(`reference: missing metadata ${key}`);
    return fallback;
  }
  return Number(v);
}

function tensor(g: RefGguf, name: string): RefTensor {
  const t = g.tensors.get(name);
  if (!t) throw new Error(`reference: missing tensor ${name}`);
  if (!t.type) throw new Error(`reference: tensor ${name} has unsupported type id ${t.typeId}`);
  return t;
}

function matrix(g: RefGguf, name: string): Matrix {
  const t = tensor(g, name);
  const cols = t.dims[0]!;
  const rows = t.dims.slice(1).reduce((a, b) => a * b, 1);
  return { rows, cols, w: dequantizeMatrix(t.type!, t.data, rows, cols) };
}

function vector(g: RefGguf, name: string): Float64Array {
  const t = tensor(g, name);
  return dequantizeRow(t.type!, t.data, t.dims[0]!);
}

function matvec(m: Matrix, x: Float64Array, bias?: Float64Array): Float64Array {
  const { rows, cols, w } = m;
  const y = new Float64Array(rows);
  for (let r = 0, o = 0; r < rows; r++, o += cols) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[o + c]! * x[c]!;
    y[r] = s + (bias ? bias[r]! : 0);
  }
  return y;
}

function rmsNorm(x: Float64Array, weight: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / x.length + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i]! * scale * weight[i]!;
  return y;
}

/** Rotates each head of `x` in place for position `pos`; frequency i is base^(−2i/ropeDim). */
function rope(x: Float64Array, nHeads: number, cfg: RefConfig, pos: number): void {
  const half = cfg.ropeDim / 2;
  for (let h = 0; h < nHeads; h++) {
    const o = h * cfg.headDim;
    for (let i = 0; i < half; i++) {
      const theta = (pos * cfg.ropeFreqScale * Math.pow(cfg.ropeBase, (-2 * i) / cfg.ropeDim)) / (cfg.ropeFreqFactors?.[i] ?? 1);
      const cos = Math.cos(theta);
      const sin = Math.sin(theta);
      const a = cfg.ropeStyle === 'pairs' ? o + 2 * i : o + i;
      const b = cfg.ropeStyle === 'pairs' ? o + 2 * i + 1 : o + i + half;
      const x0 = x[a]!;
      const x1 = x[b]!;
      x[a] = x0 * cos - x1 * sin;
      x[b] = x0 * sin + x1 * cos;
    }
  }
}

const silu = (v: number) => v / (1 + Math.exp(-v));

export function referenceConfig(g: RefGguf): RefConfig {
  const arch = g.metadata.get('general.architecture');
  if (arch !== 'llama' && arch !== 'qwen2') throw new Error(`reference: architecture ${String(arch)}`);
  const nHeads = num(g.metadata, `${arch}.attention.head_count`);
  const dModel = num(g.metadata, `${arch}.embedding_length`);
  const headDim = num(g.metadata, `${arch}.attention.key_length`, dModel / nHeads);
  const embd = tensor(g, 'token_embd.weight');
  const factor = num(g.metadata, `${arch}.rope.scaling.factor`, num(g.metadata, `${arch}.rope.scale_linear`, 0));
  return {
    ropeFreqScale: factor === 0 ? 1 : 1 / factor,
    ...(g.tensors.has('rope_freqs.weight') ? { ropeFreqFactors: vector(g, 'rope_freqs.weight') } : {}),
    arch,
    nLayers: num(g.metadata, `${arch}.block_count`),
    dModel,
    nHeads,
    nKvHeads: num(g.metadata, `${arch}.attention.head_count_kv`, nHeads),
    headDim,
    dFf: num(g.metadata, `${arch}.feed_forward_length`),
    ropeDim: num(g.metadata, `${arch}.rope.dimension_count`, headDim),
    ropeBase: num(g.metadata, `${arch}.rope.freq_base`, 10000),
    ropeStyle: arch === 'llama' ? 'pairs' : 'halves',
    rmsEps: num(g.metadata, `${arch}.attention.layer_norm_rms_epsilon`),
    nVocab: embd.dims[1]!,
    contextLength: num(g.metadata, `${arch}.context_length`),
  };
}

/** An evaluation in progress: a KV cache and the position reached. */
export interface RefSession {
  /** Feeds one token; returns the logits predicting the next one. */
  step(token: number): Float64Array;
  readonly position: number;
}

export interface Reference {
  config: RefConfig;
  gguf: RefGguf;
  session(): RefSession;
  /** Logits after each token (row i predicts token i+1), from an empty cache. */
  logits(tokens: readonly number[]): Float64Array[];
  /** Greedy continuation (argmax, ties → lowest id), stopping after n tokens or at eosId (included). */
  greedy(promptTokens: readonly number[], n: number, eosId?: number): number[];
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

export function loadReference(pathOrBytes: string | Uint8Array): Reference {
  const g = readGguf(pathOrBytes);
  const cfg = referenceConfig(g);
  const embedding = matrix(g, 'token_embd.weight');
  const output = g.tensors.has('output.weight') ? matrix(g, 'output.weight') : embedding;
  const outputNorm = vector(g, 'output_norm.weight');
  const optional = (name: string) => (g.tensors.has(name) ? vector(g, name) : undefined);
  const layers: Layer[] = [];
  for (let l = 0; l < cfg.nLayers; l++) {
    const p = `blk.${l}.`;
    layers.push({
      attnNorm: vector(g, `${p}attn_norm.weight`),
      wq: matrix(g, `${p}attn_q.weight`),
      wk: matrix(g, `${p}attn_k.weight`),
      wv: matrix(g, `${p}attn_v.weight`),
      bq: optional(`${p}attn_q.bias`),
      bk: optional(`${p}attn_k.bias`),
      bv: optional(`${p}attn_v.bias`),
      wo: matrix(g, `${p}attn_output.weight`),
      ffnNorm: vector(g, `${p}ffn_norm.weight`),
      wGate: matrix(g, `${p}ffn_gate.weight`),
      wUp: matrix(g, `${p}ffn_up.weight`),
      wDown: matrix(g, `${p}ffn_down.weight`),
    });
  }
  const group = cfg.nHeads / cfg.nKvHeads;
  const scale = 1 / Math.sqrt(cfg.headDim);

  function session(): RefSession {
    const kCache: Float64Array[][] = layers.map(() => []);
    const vCache: Float64Array[][] = layers.map(() => []);
    let pos = 0;
    return {
      get position() {
        return pos;
      },
      step(token: number): Float64Array {
        if (!(token >= 0 && token < cfg.nVocab)) throw new Error(`reference: token ${token} outside the vocabulary`);
        const x = embedding.w.slice(token * cfg.dModel, (token + 1) * cfg.dModel);
        layers.forEach((L, l) => {
          // Attention block.
          const h = rmsNorm(x, L.attnNorm, cfg.rmsEps);
          const q = matvec(L.wq, h, L.bq);
          const k = matvec(L.wk, h, L.bk);
          const v = matvec(L.wv, h, L.bv);
          rope(q, cfg.nHeads, cfg, pos);
          rope(k, cfg.nKvHeads, cfg, pos);
          kCache[l]!.push(k);
          vCache[l]!.push(v);
          const attn = new Float64Array(cfg.nHeads * cfg.headDim);
          for (let head = 0; head < cfg.nHeads; head++) {
            const kvo = Math.floor(head / group) * cfg.headDim; // GQA: consecutive query heads share a KV head
            const qo = head * cfg.headDim;
            const scores = new Float64Array(pos + 1);
            let max = -Infinity;
            for (let t = 0; t <= pos; t++) {
              let s = 0;
              for (let d = 0; d < cfg.headDim; d++) s += q[qo + d]! * kCache[l]![t]![kvo + d]!;
              scores[t] = s * scale;
              max = Math.max(max, scores[t]!);
            }
            let sum = 0;
            for (let t = 0; t <= pos; t++) sum += scores[t] = Math.exp(scores[t]! - max);
            for (let t = 0; t <= pos; t++) {
              const p = scores[t]! / sum;
              for (let d = 0; d < cfg.headDim; d++) attn[qo + d] += p * vCache[l]![t]![kvo + d]!;
            }
          }
          const o = matvec(L.wo, attn);
          for (let i = 0; i < cfg.dModel; i++) x[i] += o[i]!;
          // Feed-forward block (SwiGLU).
          const f = rmsNorm(x, L.ffnNorm, cfg.rmsEps);
          const gate = matvec(L.wGate, f);
          const up = matvec(L.wUp, f);
          for (let i = 0; i < cfg.dFf; i++) gate[i] = silu(gate[i]!) * up[i]!;
          const down = matvec(L.wDown, gate);
          for (let i = 0; i < cfg.dModel; i++) x[i] += down[i]!;
        });
        pos++;
        return matvec(output, rmsNorm(x, outputNorm, cfg.rmsEps));
      },
    };
  }

  return {
    config: cfg,
    gguf: g,
    session,
    logits(tokens) {
      const s = session();
      return tokens.map((t) => s.step(t));
    },
    greedy(promptTokens, n, eosId) {
      const s = session();
      let last: Float64Array | undefined;
      for (const t of promptTokens) last = s.step(t);
      if (!last) throw new Error('reference: greedy needs at least one prompt token');
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const next = argmax(last);
        out.push(next);
        if (next === eosId) break;
        if (i + 1 < n) last = s.step(next);
      }
      return out;
    },
  };
}
