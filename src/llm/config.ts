/**
 * A model's hyperparameters, read from GGUF metadata the way llama.cpp's llama-model.cpp (load_hparams,
 * load_tensors) reads them, and checked against the tensors the architecture needs — so a file the
 * engine cannot run fails here, before any GPU work, with an error naming the key or tensor.
 */
import { ModelFileError } from '../errors';
import type { GgufMetadata, GgufTensorInfo, GgufValue } from '../formats/gguf';

export type Architecture = 'llama' | 'qwen2';
export const SUPPORTED_ARCHITECTURES: readonly Architecture[] = ['llama', 'qwen2'];

export interface ModelConfig {
  architecture: Architecture;
  nLayers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  headDim: number;
  dFf: number;
  contextLength: number;
  ropeBase: number;
  /** 'pairs' rotates (x[2i], x[2i+1]) (GGUF llama); 'halves' rotates (x[i], x[i + ropeDim/2]) (NeoX, qwen2). */
  ropeStyle: 'pairs' | 'halves';
  /** Leading dimensions of each head that are rotated (llama.cpp's n_rot). */
  ropeDim: number;
  /** Linear position scaling: angle = pos · ropeFreqScale · freq (1 unless `rope.scaling.type` is linear). */
  ropeFreqScale: number;
  /** Name of an F32 tensor of ropeDim/2 per-frequency divisors (Llama 3.1-style `rope_freqs.weight`), if any. */
  ropeFreqsTensor?: string;
  rmsEps: number;
  vocabSize: number;
  /** No `output.weight`: logits use the token embedding. */
  tiedOutput: boolean;
  /** `blk.N.attn_{q,k,v}.bias` present. */
  hasQkvBias: boolean;
}

const invalid = (msg: string) => new ModelFileError('InvalidModelFile', msg);

function isNumeric(v: GgufValue | undefined): v is number | bigint {
  return typeof v === 'number' || typeof v === 'bigint';
}

/** A whole-number key; llama.cpp also allows per-layer arrays, which we accept when all layers agree. */
function readUint(metadata: GgufMetadata, key: string, fallback?: number): number {
  let v = metadata[key];
  if (v === undefined) {
    if (fallback === undefined) throw invalid(`model metadata lacks the required key ${key}`);
    return fallback;
  }
  if (Array.isArray(v)) {
    const values = v as GgufValue[];
    if (values.length === 0 || !values.every((x) => isNumeric(x) && Number(x) === Number(values[0]))) {
      throw invalid(`${key} differs between layers ([${values.slice(0, 8).join(', ')}${values.length > 8 ? ', …' : ''}]); inpage needs it uniform`);
    }
    v = values[0];
  }
  if (!isNumeric(v) || !Number.isSafeInteger(Number(v)) || Number(v) < 0) {
    throw invalid(`${key} must be a non-negative integer, found ${String(v)}`);
  }
  return Number(v);
}

function readFloat(metadata: GgufMetadata, key: string, fallback?: number): number {
  const v = metadata[key];
  if (v === undefined) {
    if (fallback === undefined) throw invalid(`model metadata lacks the required key ${key}`);
    return fallback;
  }
  if (!isNumeric(v) || !Number.isFinite(Number(v))) throw invalid(`${key} must be a number, found ${String(v)}`);
  return Number(v);
}

/** The architecture named by `general.architecture`, if inpage runs it. */
export function architectureOf(metadata: GgufMetadata): Architecture {
  const arch = metadata['general.architecture'];
  if (typeof arch !== 'string') throw invalid('model metadata lacks general.architecture');
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new ModelFileError('UnsupportedArchitecture', `architecture "${arch}" is not supported; supported: ${SUPPORTED_ARCHITECTURES.join(', ')}`);
  }
  return arch as Architecture;
}

export function modelConfigFromGguf(metadata: GgufMetadata, tensors: readonly GgufTensorInfo[]): ModelConfig {
  const architecture = architectureOf(metadata);
  const k = (suffix: string) => `${architecture}.${suffix}`;
  if (readUint(metadata, k('expert_count'), 0) > 0) {
    throw new ModelFileError('UnsupportedArchitecture', `${architecture} with mixture-of-experts layers (${k('expert_count')} = ${readUint(metadata, k('expert_count'))}) is not supported`);
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));

  const nLayers = readUint(metadata, k('block_count'));
  const dModel = readUint(metadata, k('embedding_length'));
  const dFf = readUint(metadata, k('feed_forward_length'));
  const contextLength = readUint(metadata, k('context_length'));
  const nHeads = readUint(metadata, k('attention.head_count'));
  const nKvHeads = readUint(metadata, k('attention.head_count_kv'), nHeads); // llama.cpp: defaults to n_head
  if (nLayers < 1 || dModel < 1 || dFf < 1 || nHeads < 1 || nKvHeads < 1) {
    throw invalid(`implausible hyperparameters: ${nLayers} layers, width ${dModel}, ffn ${dFf}, ${nHeads} heads, ${nKvHeads} KV heads`);
  }
  if (nHeads % nKvHeads !== 0) throw invalid(`${nHeads} attention heads cannot be shared evenly by ${nKvHeads} KV heads`);
  // llama.cpp: n_embd_head_k = key_length, defaulting to n_embd / n_head.
  if (!metadata[k('attention.key_length')] && dModel % nHeads !== 0) {
    throw invalid(`embedding width ${dModel} is not a multiple of the ${nHeads} heads`);
  }
  const headDim = readUint(metadata, k('attention.key_length'), dModel / nHeads);
  const valueDim = readUint(metadata, k('attention.value_length'), headDim);
  if (valueDim !== headDim) throw invalid(`key head size ${headDim} differs from value head size ${valueDim}; inpage needs them equal`);
  const ropeDim = readUint(metadata, k('rope.dimension_count'), headDim); // llama.cpp: n_rot defaults to head size
  if (ropeDim % 2 !== 0 || ropeDim > headDim) throw invalid(`${k('rope.dimension_count')} is ${ropeDim}; it must be even and at most the head size ${headDim}`);
  const ropeBase = readFloat(metadata, k('rope.freq_base'), 10000);
  const rmsEps = readFloat(metadata, k('attention.layer_norm_rms_epsilon'));
  const ropeFreqScale = ropeScale(metadata, architecture);

  const embd = byName.get('token_embd.weight');
  const vocabSize = readUint(metadata, k('vocab_size'), embd?.dims[1] ?? tokenCount(metadata));
  const tiedOutput = !byName.has('output.weight');
  const hasQkvBias = byName.has('blk.0.attn_q.bias');
  const qDim = nHeads * headDim;
  const kvDim = nKvHeads * headDim;

  // Every tensor the architecture reads, with the shape llama-model.cpp's load_tensors creates it with.
  const expected = new Map<string, number[]>();
  expected.set('token_embd.weight', [dModel, vocabSize]);
  expected.set('output_norm.weight', [dModel]);
  if (!tiedOutput) expected.set('output.weight', [dModel, vocabSize]);
  const ropeFreqsTensor = byName.has('rope_freqs.weight') ? 'rope_freqs.weight' : undefined;
  if (ropeFreqsTensor) expected.set(ropeFreqsTensor, [ropeDim / 2]);
  for (let i = 0; i < nLayers; i++) {
    const p = `blk.${i}.`;
    expected.set(`${p}attn_norm.weight`, [dModel]);
    expected.set(`${p}attn_q.weight`, [dModel, qDim]);
    expected.set(`${p}attn_k.weight`, [dModel, kvDim]);
    expected.set(`${p}attn_v.weight`, [dModel, kvDim]);
    if (hasQkvBias || architecture === 'qwen2') {
      // qwen2 always has them (llama.cpp requires them); llama has all three or none.
      expected.set(`${p}attn_q.bias`, [qDim]);
      expected.set(`${p}attn_k.bias`, [kvDim]);
      expected.set(`${p}attn_v.bias`, [kvDim]);
    }
    expected.set(`${p}attn_output.weight`, [qDim, dModel]);
    expected.set(`${p}ffn_norm.weight`, [dModel]);
    expected.set(`${p}ffn_gate.weight`, [dModel, dFf]);
    expected.set(`${p}ffn_up.weight`, [dModel, dFf]);
    expected.set(`${p}ffn_down.weight`, [dFf, dModel]);
  }
  for (const [name, dims] of expected) {
    const t = byName.get(name);
    if (!t) throw invalid(`${architecture} model lacks tensor ${name} (expected shape [${dims.join(', ')}])`);
    // A trailing 1 is the same shape (ggml pads dims with 1s).
    const got = t.dims.length > dims.length && t.dims.slice(dims.length).every((d) => d === 1) ? t.dims.slice(0, dims.length) : t.dims;
    if (got.length !== dims.length || got.some((d, j) => d !== dims[j])) {
      throw invalid(`tensor ${name} has shape [${t.dims.join(', ')}], expected [${dims.join(', ')}] from the model's hyperparameters`);
    }
    if (dims.length === 1 && t.type !== 'F32') throw invalid(`tensor ${name} is ${t.type}; norms, biases and rope factors must be F32`);
  }
  // Like llama.cpp ("wrong number of tensors"), refuse tensors we would silently ignore (ffn biases, etc.).
  for (const t of tensors) {
    if (!expected.has(t.name)) throw invalid(`unexpected tensor ${t.name} in a ${architecture} model; inpage would ignore it and compute something else`);
  }

  return {
    architecture, nLayers, dModel, nHeads, nKvHeads, headDim, dFf, contextLength, ropeBase,
    ropeStyle: architecture === 'llama' ? 'pairs' : 'halves',
    ropeDim, ropeFreqScale, ...(ropeFreqsTensor ? { ropeFreqsTensor } : {}), rmsEps, vocabSize, tiedOutput, hasQkvBias,
  };
}

function tokenCount(metadata: GgufMetadata): number | undefined {
  const tokens = metadata['tokenizer.ggml.tokens'];
  return Array.isArray(tokens) ? tokens.length : undefined;
}

/** llama.cpp's rope scaling keys: none and linear are plain position scales; others change the math. */
function ropeScale(metadata: GgufMetadata, arch: Architecture): number {
  const type = metadata[`${arch}.rope.scaling.type`];
  // llama.cpp: rope.scale_linear (older) or rope.scaling.factor; freq_scale = 1 / factor.
  const factor = readFloat(metadata, `${arch}.rope.scaling.factor`, readFloat(metadata, `${arch}.rope.scale_linear`, 0));
  if (type === undefined || type === 'none' || type === 'linear') {
    return factor === 0 ? 1 : 1 / factor; // as llama.cpp's rope_freq_scale_train, whatever the type says
  }
  throw new ModelFileError('UnsupportedArchitecture', `rope scaling "${String(type)}" is not supported (supported: none, linear)`);
}
