/**
 * A GGUF llama/qwen2 model → an ONNX decoder in the Hugging Face optimum / transformers.js convention (the
 * I/O names and shapes are listed in ./ort_decoder.ts), so it runs on onnxruntime-web's WASM execution
 * provider where WebGPU is missing, through the same runner as optimum exports.
 *
 * Weights stay quantized (./repack.ts says how each GGUF type maps onto com.microsoft MatMulNBits), or, with
 * `matmulWeights: 'f32'`, are dequantized once to the very same f32 values for a plain MatMul (the fast
 * path on onnxruntime-web's WASM build, which has no fused MatMulNBits kernel). The embedding table is kept
 * quantized either way: its rows are gathered and dequantized with standard ops, and a tied output head
 * runs MatMulNBits on the same initializers. Everything else uses standard ONNX ops
 * (opset 21), so the graph reads like src/llm/llama.ts: per layer RMSNorm → q/k/v → RoPE → attention with
 * the past keys/values → output → residual → RMSNorm → SwiGLU → residual; then the final norm and logits.
 * Attention is plain MatMul/Softmax with the grouped query heads folded onto their KV head (no repeated
 * K/V); com.microsoft GroupQueryAttention was not used (not measured: at decode the linear layers dominate).
 *
 * Tensors are streamed from the source one at a time (readTensorChunks) and repacked as they arrive; the
 * finished model still holds every weight once (in the external data blob) since onnxruntime takes it whole.
 */
import { ModelFileError } from '../../errors';
import { readTensorChunks, type ByteSource, type GgufFile, type GgufTensorInfo } from '../../formats/gguf';
import { OnnxGraphBuilder } from '../../formats/onnx/graph_builder';
import type { ModelConfig } from '../../llm/config';
import { repack, toF32Transposed, type PackedMatrix } from './repack';

export interface ExportOptions {
  /**
   * MatMulNBits accuracy_level: 0 (default) computes in f32 from the dequantized weights, as the exact
   * reference does; 4 quantizes activations to int8 first (faster on some CPUs, llama.cpp-like rounding).
   */
  accuracyLevel?: 0 | 4;
  /**
   * How linear layers hold their weights:
   *  - 'nbits' (default): MatMulNBits on the repacked GGUF blocks — the file's size in memory. Fast where
   *    onnxruntime has fused kernels for it (native CPU, WebGPU); its WASM build does not (1.30: B is
   *    dequantized in full on every call, ~150× slower than an f32 MatMul at decode shapes);
   *  - 'f32': the same weights dequantized once to f32 for a plain MatMul — bit-identical to what
   *    MatMulNBits computes with, 4–8× the memory, by far the fastest on the WASM execution provider.
   * The token embedding is gathered from its quantized rows either way.
   */
  matmulWeights?: 'nbits' | 'f32';
  /** Positions the RoPE tables cover (default: the model's context length). */
  maxPositions?: number;
  signal?: AbortSignal;
}

export interface ExportedOnnx {
  model: Uint8Array;
  externalData: { path: 'model.onnx_data'; data: Uint8Array };
  /** Quantized GGUF types stored as f32 because MatMulNBits cannot hold them without loss (./repack.ts), sorted. */
  dequantizedTypes: string[];
}

const EXTERNAL_PATH = 'model.onnx_data';
/** Added to masked attention scores: the most negative f32 (as optimum does), never -inf, so no NaN. */
const MASKED = -3.4028234663852886e38;

export async function exportGgufToOnnx(file: GgufFile, source: ByteSource, c: ModelConfig, options: ExportOptions = {}): Promise<ExportedOnnx> {
  const g = new OnnxGraphBuilder(`inpage ${c.architecture}`, { '': 21, 'com.microsoft': 1 });
  const ops = new Ops(g, options.accuracyLevel ?? 0, options.matmulWeights ?? 'nbits');
  const weights = new WeightReader(file, source, options.signal);
  const kvShape = ['batch_size', c.nKvHeads, 'past_sequence_length', c.headDim];

  // Inputs and the shapes derived from them.
  g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  g.input('attention_mask', 'int64', ['batch_size', 'total_sequence_length']);
  g.input('position_ids', 'int64', ['batch_size', 'sequence_length']);
  for (let i = 0; i < c.nLayers; i++) {
    g.input(`past_key_values.${i}.key`, 'float32', kvShape);
    g.input(`past_key_values.${i}.value`, 'float32', kvShape);
  }
  const mask = ops.attentionBias('input_ids', 'attention_mask'); // [B, 1, 1, S, T]: 0 or MASKED
  const rope = ops.ropeTables(c, await weights.ropeFreqs(c), options.maxPositions ?? c.contextLength, 'position_ids');

  // Token embedding (quantized rows gathered, then dequantized).
  const embedding = ops.matrix('token_embd', await weights.matrix('token_embd.weight'), { gather: true, matmul: c.tiedOutput });
  let x = ops.gatherRows(embedding, 'input_ids', c.dModel);

  for (let i = 0; i < c.nLayers; i++) {
    const p = `blk.${i}.`;
    const w = async (name: string) => ops.matrix(`${p}${name}`, await weights.matrix(`${p}${name}.weight`));
    const bias = async (name: string) => (c.hasQkvBias || c.architecture === 'qwen2' ? ops.vector(`${p}${name}.bias`, await weights.vector(`${p}${name}.bias`)) : undefined);
    // attention
    let h = ops.rmsNorm(x, ops.vector(`${p}attn_norm`, await weights.vector(`${p}attn_norm.weight`)), c.rmsEps);
    const q = ops.heads(ops.linear(h, await w('attn_q'), await bias('attn_q')), c.nHeads, c.headDim); // [B, S, H, hd]
    const k = ops.heads(ops.linear(h, await w('attn_k'), await bias('attn_k')), c.nKvHeads, c.headDim);
    const v = ops.heads(ops.linear(h, await w('attn_v'), await bias('attn_v')), c.nKvHeads, c.headDim);
    const keys = ops.appendPast(`past_key_values.${i}.key`, ops.rope(k, rope, c), `present.${i}.key`); // [B, kvH, T, hd]
    const values = ops.appendPast(`past_key_values.${i}.value`, v, `present.${i}.value`);
    const attn = ops.attention(ops.rope(q, rope, c), keys, values, mask, c); // [B, S, H·hd]
    x = g.op('Add', [x, ops.linear(attn, await w('attn_output'))]);
    // feed-forward (SwiGLU)
    h = ops.rmsNorm(x, ops.vector(`${p}ffn_norm`, await weights.vector(`${p}ffn_norm.weight`)), c.rmsEps);
    const gate = ops.linear(h, await w('ffn_gate'));
    const up = ops.linear(h, await w('ffn_up'));
    x = g.op('Add', [x, ops.linear(ops.siluMul(gate, up), await w('ffn_down'))]);
    g.output(`present.${i}.key`, 'float32', ['batch_size', c.nKvHeads, 'total_sequence_length', c.headDim]);
    g.output(`present.${i}.value`, 'float32', ['batch_size', c.nKvHeads, 'total_sequence_length', c.headDim]);
  }
  const normed = ops.rmsNorm(x, ops.vector('output_norm', await weights.vector('output_norm.weight')), c.rmsEps);
  const head = c.tiedOutput ? embedding : ops.matrix('output', await weights.matrix('output.weight'));
  ops.linear(normed, head, undefined, 'logits');
  g.output('logits', 'float32', ['batch_size', 'sequence_length', c.vocabSize]);

  const built = g.build({ externalDataPath: EXTERNAL_PATH });
  return { model: built.model, externalData: { path: EXTERNAL_PATH, data: built.externalData?.data ?? new Uint8Array(0) }, dequantizedTypes: weights.dequantizedTypes() };
}

/** Reads tensors from the GGUF source one at a time, streamed in chunks. */
class WeightReader {
  private readonly byName: Map<string, GgufTensorInfo>;
  constructor(file: GgufFile, private readonly source: ByteSource, private readonly signal?: AbortSignal) {
    this.byName = new Map(file.tensors.map((t) => [t.name, t]));
  }

  private info(name: string): GgufTensorInfo {
    const t = this.byName.get(name);
    if (!t) throw new ModelFileError('InvalidModelFile', `the model lacks tensor ${name}`);
    return t;
  }

  async bytes(t: GgufTensorInfo): Promise<Uint8Array> {
    const out = new Uint8Array(t.byteLength);
    let at = 0;
    for await (const chunk of readTensorChunks(this.source, t, 4 << 20, { signal: this.signal })) {
      out.set(chunk, at);
      at += chunk.byteLength;
    }
    return out;
  }

  async matrix(name: string): Promise<PackedMatrix> {
    const t = this.info(name);
    const cols = t.dims[0]!;
    const m = repack(t.type, await this.bytes(t), t.elements / cols, cols, name);
    if (m.kind === 'float' && t.type !== 'F32' && t.type !== 'F16' && t.type !== 'BF16') this.dequantized.add(t.type);
    return m;
  }

  private readonly dequantized = new Set<string>();
  dequantizedTypes(): string[] {
    return [...this.dequantized].sort();
  }

  async vector(name: string): Promise<Float32Array> {
    const t = this.info(name);
    if (t.type !== 'F32') throw new ModelFileError('InvalidModelFile', `${name} is ${t.type}; norms and biases must be F32`);
    const b = await this.bytes(t);
    return new Float32Array(b.buffer, b.byteOffset, t.elements);
  }

  async ropeFreqs(c: ModelConfig): Promise<Float32Array | undefined> {
    return c.ropeFreqsTensor ? this.vector(c.ropeFreqsTensor) : undefined;
  }
}

/** The graph's building blocks: each method adds the nodes of one step and returns its output name. */
class Ops {
  private constants = 0;
  constructor(readonly g: OnnxGraphBuilder, private readonly accuracyLevel: number, private readonly matmulWeights: 'nbits' | 'f32') {}

  private ints(values: number[]): string {
    return this.g.int64s(`const_i${this.constants++}`, [values.length], values);
  }
  private scalar(v: number): string {
    return this.g.floats(`const_f${this.constants++}`, [], [v]);
  }
  private scalarInt(v: number): string {
    return this.g.int64s(`const_i${this.constants++}`, [], [v]);
  }

  vector(name: string, data: Float32Array): string {
    return this.g.initializer(name, { type: 'float32', dims: [data.length], data });
  }

  /**
   * A weight matrix's initializers, for a Gather of its rows and/or a matmul: MatMulNBits and the
   * embedding gather share the quantized ones; a float matmul gets its own [in, out] copy.
   */
  matrix(name: string, m: PackedMatrix, use: { gather?: boolean; matmul?: boolean } = { matmul: true }): Matrix {
    const { g } = this;
    const w: Matrix = { m };
    const quantized = m.kind === 'nbits' && (use.gather || this.matmulWeights === 'nbits');
    if (m.kind === 'float' && use.gather) w.rows = g.initializer(`${name}.weight`, { type: 'float32', dims: [m.rows, m.cols], data: m.data });
    if (m.kind === 'nbits' && quantized) {
      const nb = m.cols / m.blockSize;
      w.qweight = g.initializer(`${name}.qweight`, { type: 'uint8', dims: [m.rows, nb, (m.blockSize * m.bits) / 8], data: m.data });
      w.scales = g.initializer(`${name}.scales`, { type: 'float32', dims: [m.rows, nb], data: m.scales });
      if (m.zeroPoints) w.zeroPoints = g.initializer(`${name}.zero_points`, { type: 'float32', dims: [m.rows, nb], data: m.zeroPoints });
    }
    if (use.matmul && (m.kind === 'float' || this.matmulWeights === 'f32')) {
      w.inOut = g.initializer(`${name}.weight_t`, { type: 'float32', dims: [m.cols, m.rows], data: toF32Transposed(m) });
    }
    return w;
  }

  /** y = x·Wᵀ (+ bias): MatMul on f32 [in, out] weights, else MatMulNBits on the quantized ones. */
  linear(x: string, w: Matrix, bias?: string, out?: string): string {
    const { m } = w;
    const name = bias ? 1 : [out ?? this.fresh()];
    let y: string;
    if (w.inOut) {
      y = this.g.node('MatMul', [x, w.inOut], name)[0]!;
    } else if (m.kind === 'nbits' && w.qweight) {
      const attrs = { K: m.cols, N: m.rows, bits: m.bits, block_size: m.blockSize, accuracy_level: this.accuracyLevel };
      const inputs = [x, w.qweight, w.scales!, ...(w.zeroPoints ? [w.zeroPoints] : [])];
      y = this.g.node('MatMulNBits', inputs, name, attrs, 'com.microsoft')[0]!;
    } else {
      throw new Error('internal: matrix has no matmul initializer');
    }
    return bias ? this.g.node('Add', [y, bias], [out ?? this.fresh()])[0]! : y;
  }

  private fresh(): string {
    return `t${this.constants++}`;
  }

  /** Rows `ids` [B, S] of matrix w, dequantized: [B, S, width]. */
  gatherRows(w: Matrix, ids: string, width: number): string {
    const { g } = this;
    const { m } = w;
    if (m.kind === 'float') return g.op('Gather', [w.rows!, ids], { axis: 0 });
    const nb = m.cols / m.blockSize;
    const bytes = g.op('Cast', [g.op('Gather', [w.qweight!, ids], { axis: 0 })], { to: 1 }); // [B, S, nb, blob]
    let u = bytes;
    if (m.bits === 4) {
      // byte = lo | hi << 4, element 2i = lo and 2i+1 = hi: exact in f32 (floor of a small integer / 16).
      const hi = g.op('Floor', [g.op('Mul', [bytes, this.scalar(1 / 16)])]);
      const lo = g.op('Sub', [bytes, g.op('Mul', [hi, this.scalar(16)])]);
      const pairs = g.op('Concat', [g.op('Unsqueeze', [lo, this.ints([-1])]), g.op('Unsqueeze', [hi, this.ints([-1])])], { axis: -1 });
      u = g.op('Reshape', [pairs, this.ints([0, 0, nb, m.blockSize])]);
    }
    const perBlock = (t: string) => g.op('Unsqueeze', [g.op('Gather', [t, ids], { axis: 0 }), this.ints([-1])]); // [B, S, nb, 1]
    const zero = w.zeroPoints ? perBlock(w.zeroPoints) : this.scalar(2 ** (m.bits - 1));
    const values = g.op('Mul', [g.op('Sub', [u, zero]), perBlock(w.scales!)]);
    return g.op('Reshape', [values, this.ints([0, 0, width])]);
  }

  /** x / sqrt(mean(x²) + eps) · weight, in the pattern onnxruntime fuses into SimplifiedLayerNormalization. */
  rmsNorm(x: string, weight: string, eps: number): string {
    const { g } = this;
    const meanSquare = g.op('ReduceMean', [g.op('Pow', [x, this.scalar(2)]), this.ints([-1])], { keepdims: 1 });
    return g.op('Mul', [g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSquare, this.scalar(eps)])])]), weight]);
  }

  siluMul(gate: string, up: string): string {
    const { g } = this;
    return g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
  }

  /** [B, S, heads·hd] → [B, S, heads, hd]. */
  heads(x: string, heads: number, headDim: number): string {
    return this.g.op('Reshape', [x, this.ints([0, 0, heads, headDim])]);
  }

  /**
   * cos/sin of position·freqScale·base^(−2i/ropeDim) / factor_i, computed in float64 for positions
   * [0, maxPositions) and gathered by position_ids: [B, S, 1, ropeDim/2] each.
   */
  ropeTables(c: ModelConfig, factors: Float32Array | undefined, maxPositions: number, positionIds: string): Rope {
    const half = c.ropeDim / 2;
    const cos = new Float32Array(maxPositions * half);
    const sin = new Float32Array(maxPositions * half);
    for (let p = 0; p < maxPositions; p++) {
      for (let i = 0; i < half; i++) {
        const theta = (p * c.ropeFreqScale * Math.pow(c.ropeBase, (-2 * i) / c.ropeDim)) / (factors?.[i] ?? 1);
        cos[p * half + i] = Math.cos(theta);
        sin[p * half + i] = Math.sin(theta);
      }
    }
    const { g } = this;
    const table = (name: string, data: Float32Array) => {
      const t = g.initializer(name, { type: 'float32', dims: [maxPositions, half], data });
      return g.op('Unsqueeze', [g.op('Gather', [t, positionIds], { axis: 0 }), this.ints([2])]);
    };
    return { cos: table('rope.cos', cos), sin: table('rope.sin', sin) };
  }

  /** RoPE on x [B, S, heads, hd]: adjacent pairs (GGUF llama) or halves (NeoX, qwen2) of the first ropeDim. */
  rope(x: string, r: Rope, c: ModelConfig): string {
    const { g } = this;
    const half = c.ropeDim / 2;
    const rest = c.headDim - c.ropeDim;
    const [rot, pass] = rest > 0 ? g.node('Split', [x, this.ints([c.ropeDim, rest])], 2, { axis: -1 }) : [x, undefined];
    let out: string;
    if (c.ropeStyle === 'halves') {
      const [a, b] = g.node('Split', [rot!, this.ints([half, half])], 2, { axis: -1 });
      const ra = g.op('Sub', [g.op('Mul', [a!, r.cos]), g.op('Mul', [b!, r.sin])]);
      const rb = g.op('Add', [g.op('Mul', [b!, r.cos]), g.op('Mul', [a!, r.sin])]);
      out = g.op('Concat', [ra, rb], { axis: -1 });
    } else {
      const pairs = g.op('Reshape', [rot!, this.ints([0, 0, 0, half, 2])]);
      const [a, b] = g.node('Split', [pairs, this.ints([1, 1])], 2, { axis: -1 }); // [B, S, H, half, 1]
      const cos = g.op('Unsqueeze', [r.cos, this.ints([-1])]);
      const sin = g.op('Unsqueeze', [r.sin, this.ints([-1])]);
      const ra = g.op('Sub', [g.op('Mul', [a!, cos]), g.op('Mul', [b!, sin])]);
      const rb = g.op('Add', [g.op('Mul', [a!, sin]), g.op('Mul', [b!, cos])]);
      out = g.op('Reshape', [g.op('Concat', [ra, rb], { axis: -1 }), this.ints([0, 0, 0, c.ropeDim])]);
    }
    return pass ? g.op('Concat', [out, pass], { axis: -1 }) : out;
  }

  /** [B, S, kvH, hd] → transposed to [B, kvH, S, hd] and appended to the past along the sequence axis. */
  appendPast(past: string, x: string, present: string): string {
    return this.g.node('Concat', [past, this.g.op('Transpose', [x], { perm: [0, 2, 1, 3] })], [present], { axis: 2 })[0]!;
  }

  /**
   * Additive attention bias [B, 1, 1, S, T]: query i (absolute position T − S + i) sees key j when j ≤ its
   * position (causal) and attention_mask[b, j] is 1 (padding).
   */
  attentionBias(inputIds: string, attentionMask: string): string {
    const { g } = this;
    const dim = (t: string, axis: number) => g.op('Squeeze', [g.op('Shape', [t], { start: axis, end: axis + 1 }), this.ints([0])]);
    const S = dim(inputIds, 1);
    const T = dim(attentionMask, 1);
    const one = this.scalarInt(1);
    const keyPos = g.op('Range', [this.scalarInt(0), T, one]); // [T]
    const queryPos = g.op('Unsqueeze', [g.op('Range', [g.op('Sub', [T, S]), T, one]), this.ints([1])]); // [S, 1]
    const causal = g.op('LessOrEqual', [keyPos, queryPos]); // [S, T]
    const padding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: 9 }), this.ints([1, 2, 3])]); // [B, 1, 1, 1, T]
    return g.op('Where', [g.op('And', [causal, padding]), this.scalar(0), this.scalar(MASKED)]);
  }

  /**
   * softmax(q·kᵀ/√hd + bias)·v with grouped-query heads: the query heads sharing a KV head are folded into
   * its rows ([B, kvH, group·S, hd]), so keys and values are never repeated.
   */
  attention(q: string, keys: string, values: string, bias: string, c: ModelConfig): string {
    const { g } = this;
    const group = c.nHeads / c.nKvHeads;
    const qt = g.op('Transpose', [q], { perm: [0, 2, 1, 3] }); // [B, H, S, hd]
    const qg = g.op('Reshape', [g.op('Mul', [qt, this.scalar(1 / Math.sqrt(c.headDim))]), this.ints([0, c.nKvHeads, -1, c.headDim])]);
    const scores = g.op('MatMul', [qg, g.op('Transpose', [keys], { perm: [0, 1, 3, 2] })]); // [B, kvH, group·S, T]
    const T = g.op('Shape', [keys], { start: 2, end: 3 });
    const byQuery = g.op('Reshape', [scores, g.op('Concat', [this.ints([0, c.nKvHeads, group, -1]), T], { axis: 0 })]); // [B, kvH, group, S, T]
    const probs = g.op('Softmax', [g.op('Add', [byQuery, bias])], { axis: -1 });
    const flat = g.op('Reshape', [probs, g.op('Concat', [this.ints([0, c.nKvHeads, -1]), T], { axis: 0 })]);
    const out = g.op('Reshape', [g.op('MatMul', [flat, values]), this.ints([0, c.nHeads, -1, c.headDim])]); // [B, H, S, hd]
    return g.op('Reshape', [g.op('Transpose', [out], { perm: [0, 2, 1, 3] }), this.ints([0, 0, c.nHeads * c.headDim])]);
  }
}

interface Matrix {
  m: PackedMatrix;
  /** Float rows [out, in], for Gather. */
  rows?: string;
  /** MatMulNBits' B, scales, zero points (also gathered for the embedding). */
  qweight?: string;
  scales?: string;
  zeroPoints?: string;
  /** f32 [in, out], for MatMul. */
  inOut?: string;
}

interface Rope {
  cos: string;
  sin: string;
}
