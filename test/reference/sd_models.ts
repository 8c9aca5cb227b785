/**
 * Tiny RANDOM-weight Stable Diffusion components, written with OnnxGraphBuilder in the layout Hugging Face
 * ONNX exports use (optimum / diffusers' onnx branches):
 *
 *     model_index.json
 *     scheduler/scheduler_config.json
 *     tokenizer/{vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json}
 *     text_encoder/model.onnx               input_ids int32 [batch, 77] → last_hidden_state [batch, 77, D], pooler_output [batch, D]
 *     unet/model.onnx + unet/model.onnx_data sample [batch, 4, h, w], timestep, encoder_hidden_states [batch, 77, D] → out_sample
 *     vae_decoder/model.onnx + config.json  latent_sample [batch, 4, h, w] → sample [batch, 3, 8h, 8w]
 *
 * The graphs have the real names, types and dynamic dimensions, and the same kinds of computation as the real
 * networks at toy widths: text encoder = token + position embedding and one MLP layer with LayerNorms; UNet =
 * conv_in, sinusoidal timestep embedding, one cross-attention on encoder_hidden_states, conv_out; VAE decoder =
 * conv, nearest upsample ×8, conv. They are not trained: the images are noise, but deterministic noise that
 * every executor must reproduce.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { OnnxGraphBuilder, type OnnxDataType } from '../../src/formats/onnx/graph_builder';
import { randomFloats } from '../random';

export const TINY = { vocab: 64, hidden: 32, unetChannels: 16, vaeChannels: 8, freqs: 8, seqLen: 77 } as const;

export interface TinySdOptions {
  /** UNet timestep input type (optimum SD exports: int64; some exports float32). Default int64. */
  timestepType?: 'int64' | 'float32';
  /** Timestep shape as declared: ['steps'] (optimum), ['batch'], or [] (scalar). Default ['steps']. */
  timestepShape?: (string | number)[];
  /** The UNet turns its output into NaN once the timestep falls below this (to test the NaN guard). */
  nanBelowTimestep?: number;
  /** Declare the UNet's sample / out_sample as float16 (a half-precision export). */
  fp16Unet?: boolean;
  /** A fixed batch of 1 in the UNet's declared inputs (exports with static shapes): CFG must run two calls. */
  staticBatch1?: boolean;
  /** vae_decoder/config.json scaling_factor (written only when set; the default is 0.18215). */
  scalingFactor?: number;
  /** The external data file name of the UNet (optimum: model.onnx_data; older exports: weights.pb). */
  unetExternalData?: string;
  scheduler?: Record<string, unknown>;
  seed?: number;
}

let seedCounter = 0;
function weights(g: OnnxGraphBuilder, name: string, dims: number[], seed: number, scale: number): string {
  const n = dims.reduce((a, b) => a * b, 1);
  return g.initializer(name, { type: 'float32', dims, data: randomFloats(n, seed * 1000 + ++seedCounter, scale) });
}

export function buildTextEncoder(seed = 1): Uint8Array {
  seedCounter = 0;
  const { vocab, hidden: D, seqLen } = TINY;
  const g = new OnnxGraphBuilder('text_encoder');
  g.input('input_ids', 'int32', ['batch_size', 'sequence_length']);
  const tok = weights(g, 'token_embedding', [vocab, D], seed, 1);
  const pos = weights(g, 'position_embedding', [seqLen, D], seed, 0.5);
  const ids64 = g.op('Cast', ['input_ids'], { to: 7 });
  let h = g.op('Add', [g.op('Gather', [tok, ids64], { axis: 0 }), pos]);
  // One pre-norm MLP block with a residual, then the final LayerNorm.
  const ln = (x: string, tag: string) =>
    g.op('LayerNormalization', [x, g.floats(`${tag}_g`, [D], randomFloats(D, seed + 7, 0.2).map((v) => 1 + v)), g.floats(`${tag}_b`, [D], randomFloats(D, seed + 8, 0.1))], {
      axis: -1,
      epsilon: { float: 1e-5 },
    });
  const w1 = weights(g, 'fc1', [D, 2 * D], seed, 0.3);
  const w2 = weights(g, 'fc2', [2 * D, D], seed, 0.3);
  const m = g.op('MatMul', [g.op('Gelu', [g.op('MatMul', [ln(h, 'ln1'), w1])]), w2]);
  h = g.op('Add', [h, m]);
  g.node('LayerNormalization', [h, g.floats('lnf_g', [D], new Float32Array(D).fill(1)), g.floats('lnf_b', [D], new Float32Array(D))], ['last_hidden_state'], {
    axis: -1,
    epsilon: { float: 1e-5 },
  });
  // Stand-in pooler: the mean over positions (CLIP takes the EOS position; the pipeline does not use it).
  g.node('ReduceMean', ['last_hidden_state', g.int64s('pool_axes', [1], [1])], ['pooler_output'], { keepdims: 0 });
  g.output('last_hidden_state', 'float32', ['batch_size', 'sequence_length', D]);
  g.output('pooler_output', 'float32', ['batch_size', D]);
  return g.build().model;
}

function conv3x3(g: OnnxGraphBuilder, x: string, cin: number, cout: number, tag: string, seed: number, scale: number): string {
  const w = weights(g, `${tag}_w`, [cout, cin, 3, 3], seed, scale / Math.sqrt(cin * 9));
  const b = weights(g, `${tag}_b`, [cout], seed, 0.05);
  return g.op('Conv', [x, w, b], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] });
}

export function buildUnet(o: TinySdOptions = {}): { model: Uint8Array; externalData?: { path: string; data: Uint8Array } } {
  seedCounter = 0;
  const seed = (o.seed ?? 1) + 100;
  const { hidden: D, unetChannels: C, freqs: F } = TINY;
  const io: OnnxDataType = o.fp16Unet ? 'float16' : 'float32';
  const batch = o.staticBatch1 ? 1 : 'batch';
  const g = new OnnxGraphBuilder('unet');
  g.input('sample', io, [batch, 4, 'height', 'width']);
  g.input('timestep', o.timestepType ?? 'int64', o.timestepShape ?? ['steps']);
  g.input('encoder_hidden_states', 'float32', [batch, 'sequence_length', D]);
  const sample = o.fp16Unet ? g.op('Cast', ['sample'], { to: 1 }) : 'sample';
  const h0 = conv3x3(g, sample, 4, C, 'conv_in', seed, 1.5);
  // Sinusoidal timestep embedding → Linear → SiLU, added per channel.
  const t = g.op('Reshape', [g.op('Cast', ['timestep'], { to: 1 }), g.int64s('t_shape', [2], [-1, 1])]);
  const freqs = g.floats('t_freqs', [1, F], Array.from({ length: F }, (_, i) => Math.exp((-Math.log(10000) * i) / F)));
  const args = g.op('Mul', [t, freqs]);
  const temb0 = g.op('Concat', [g.op('Sin', [args]), g.op('Cos', [args])], { axis: 1 });
  const tl = g.op('Add', [g.op('MatMul', [temb0, weights(g, 'time_w', [2 * F, C], seed, 0.5)]), weights(g, 'time_b', [C], seed, 0.1)]);
  const temb = g.op('Unsqueeze', [g.op('Mul', [tl, g.op('Sigmoid', [tl])]), g.int64s('t_axes', [2], [2, 3])]);
  const h1 = g.op('Add', [h0, temb]);
  // Cross-attention: queries from the feature map, keys and values from encoder_hidden_states.
  const tokens = g.op('Transpose', [g.op('Reshape', [h1, g.int64s('flat_shape', [3], [0, C, -1])])], { perm: [0, 2, 1] }); // [B, HW, C]
  const q = g.op('MatMul', [tokens, weights(g, 'to_q', [C, C], seed, 1 / Math.sqrt(C))]);
  const k = g.op('MatMul', ['encoder_hidden_states', weights(g, 'to_k', [D, C], seed, 1 / Math.sqrt(D))]);
  const v = g.op('MatMul', ['encoder_hidden_states', weights(g, 'to_v', [D, C], seed, 1 / Math.sqrt(D))]);
  const scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 2, 1] })]), g.floats('attn_scale', [], [4 / Math.sqrt(C)])]);
  const attn = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
  const o1 = g.op('MatMul', [attn, weights(g, 'to_out', [C, C], seed, 2 / Math.sqrt(C))]);
  const back = g.op('Reshape', [g.op('Transpose', [o1], { perm: [0, 2, 1] }), g.op('Shape', [h1])]);
  const h2 = g.op('Add', [h1, back]);
  let out = conv3x3(g, g.op('Mul', [h2, g.op('Sigmoid', [h2])]), C, 4, 'conv_out', seed, 1);
  if (o.nanBelowTimestep !== undefined) {
    // 0·log(t − threshold): 0 while t > threshold, NaN from the first step below it.
    const gap = g.op('Sub', [t, g.floats('nan_threshold', [], [o.nanBelowTimestep])]);
    const poison = g.op('Unsqueeze', [g.op('Mul', [g.op('Log', [gap]), g.floats('zero', [], [0])]), g.int64s('p_axes', [2], [2, 3])]);
    out = g.op('Add', [out, poison]);
  }
  g.node(o.fp16Unet ? 'Cast' : 'Identity', [out], ['out_sample'], o.fp16Unet ? { to: 10 } : {});
  g.output('out_sample', io, [batch, 4, 'height', 'width']);
  return g.build({ externalDataPath: o.unetExternalData ?? 'model.onnx_data', externalThreshold: 256 });
}

export function buildVaeDecoder(seed = 1): Uint8Array {
  seedCounter = 0;
  const s = seed + 200;
  const C = TINY.vaeChannels;
  const g = new OnnxGraphBuilder('vae_decoder');
  g.input('latent_sample', 'float32', ['batch', 4, 'latent_height', 'latent_width']);
  const h = conv3x3(g, 'latent_sample', 4, C, 'conv_in', s, 0.08);
  const up = g.op('Resize', [h, '', g.floats('scales', [4], [1, 1, 8, 8])], { mode: 'nearest' });
  const act = g.op('Mul', [up, g.op('Sigmoid', [up])]);
  const img = conv3x3(g, act, C, 3, 'conv_out', s, 1.2);
  g.node('Identity', [img], ['sample']);
  g.output('sample', 'float32', ['batch', 3, 'height', 'width']);
  return g.build().model;
}

/**
 * A tiny CLIP-style BPE vocabulary: byte-level base tokens, their `</w>` word-final forms, a few merges,
 * and the two special tokens, in the files HF tokenizers ship (vocab.json, merges.txt).
 */
export function tinyTokenizerFiles(): Record<string, string> {
  const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
  const vocab: Record<string, number> = {};
  let id = 0;
  vocab['!'] = id++; // SD 2.x pads with "!" (id 0); SD 1.x pads with the end token
  for (const c of letters) vocab[c] = id++;
  for (const c of letters) vocab[`${c}</w>`] = id++;
  const merges = ['c a', 'ca t</w>', 'd o', 'do g</w>', 'r e', 're d</w>'];
  // Merged tokens: first + second as HF writes them.
  for (const m of merges) {
    const [a, b] = m.split(' ');
    const tok = `${a}${b}`;
    if (!(tok in vocab)) vocab[tok] = id++;
  }
  vocab['<|startoftext|>'] = id++;
  vocab['<|endoftext|>'] = id++;
  if (id > TINY.vocab) throw new Error(`tiny vocab has ${id} tokens; TINY.vocab is ${TINY.vocab}`);
  return {
    'vocab.json': JSON.stringify(vocab),
    'merges.txt': `#version: 0.2\n${merges.join('\n')}\n`,
    'tokenizer_config.json': JSON.stringify({
      model_max_length: 77, do_lower_case: true, bos_token: '<|startoftext|>', eos_token: '<|endoftext|>',
      pad_token: '<|endoftext|>', unk_token: '<|endoftext|>', tokenizer_class: 'CLIPTokenizer',
    }),
    'special_tokens_map.json': JSON.stringify({ bos_token: '<|startoftext|>', eos_token: '<|endoftext|>', pad_token: '<|endoftext|>', unk_token: '<|endoftext|>' }),
  };
}

export const TINY_SCHEDULER_CONFIG = {
  _class_name: 'EulerDiscreteScheduler',
  beta_start: 0.00085,
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  num_train_timesteps: 1000,
  prediction_type: 'epsilon',
  timestep_spacing: 'leading',
  steps_offset: 1,
};

/** Writes a whole tiny pipeline to `dir` in the HF ONNX layout; returns the dir. */
export function writeTinySd(dir: string, o: TinySdOptions = {}): string {
  const put = (rel: string, data: string | Uint8Array) => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), data);
  };
  put('model_index.json', JSON.stringify({
    _class_name: 'OnnxStableDiffusionPipeline', _diffusers_version: '0.30.0',
    text_encoder: ['diffusers', 'OnnxRuntimeModel'], unet: ['diffusers', 'OnnxRuntimeModel'], vae_decoder: ['diffusers', 'OnnxRuntimeModel'],
    tokenizer: ['transformers', 'CLIPTokenizer'], scheduler: ['diffusers', 'EulerDiscreteScheduler'],
  }, null, 2));
  put('scheduler/scheduler_config.json', JSON.stringify(o.scheduler ?? TINY_SCHEDULER_CONFIG, null, 2));
  for (const [name, text] of Object.entries(tinyTokenizerFiles())) put(`tokenizer/${name}`, text);
  put('text_encoder/model.onnx', buildTextEncoder(o.seed ?? 1));
  const unet = buildUnet(o);
  put('unet/model.onnx', unet.model);
  if (unet.externalData) put(`unet/${unet.externalData.path}`, unet.externalData.data);
  put('vae_decoder/model.onnx', buildVaeDecoder(o.seed ?? 1));
  put('vae_decoder/config.json', JSON.stringify({ _class_name: 'AutoencoderKL', latent_channels: 4, ...(o.scalingFactor !== undefined ? { scaling_factor: o.scalingFactor } : {}) }));
  return dir;
}

/** Every file under `dir` (an export folder), keyed by its path relative to `dir`: loadDiffusion's `files`. */
export function folderMap(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = new Uint8Array(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}
