/**
 * The vocabulary as llama.cpp loads it from GGUF metadata (`llama_vocab::impl::load`): token texts and
 * attributes, scores, merge ranks, special ids with llama.cpp's defaults, the end-of-generation set, and the
 * attribute fix-ups llama.cpp applies by token text (so that e.g. `<|im_end|>` is a control token and ends
 * generation even when a converter forgot to mark it).
 */
import { ModelFileError } from '../errors';
import { type Metadata, invalidMetadata, optBool, optNumberArray, optString, optStringArray, optUint } from './metadata';
import { type PreTokenizer, KNOWN_PRE_TOKENIZERS, preTokenizerFor } from './pretokenize';
import { utf8Length } from './unicode';

/** llama.h `llama_token_attr` bits. */
export const ATTR = {
  UNDEFINED: 0,
  UNKNOWN: 1 << 0,
  UNUSED: 1 << 1,
  NORMAL: 1 << 2,
  CONTROL: 1 << 3,
  USER_DEFINED: 1 << 4,
  BYTE: 1 << 5,
  LSTRIP: 1 << 7,
  RSTRIP: 1 << 8,
} as const;

/** GGUF `tokenizer.ggml.token_type` values (llama.h `llama_token_type`) → attributes. */
const TYPE_TO_ATTR = [ATTR.UNDEFINED, ATTR.NORMAL, ATTR.UNKNOWN, ATTR.CONTROL, ATTR.USER_DEFINED, ATTR.UNUSED, ATTR.BYTE];

export type TokenizerModel = 'gpt2' | 'llama';

export interface Vocab {
  readonly model: TokenizerModel;
  /** Token texts as stored (GPT-2 byte characters for gpt2, `▁` for spaces for llama). */
  readonly tokens: readonly string[];
  readonly attrs: Uint16Array;
  readonly scores: Float32Array;
  readonly tokenToId: ReadonlyMap<string, number>;
  /** gpt2 only: rank of merge (left, right), first occurrence wins as in llama.cpp's bpe_ranks.emplace. */
  readonly mergeRanks: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** gpt2 only. */
  readonly pre: PreTokenizer | undefined;
  readonly preName: string | undefined;
  readonly bos: number | null;
  readonly eos: number | null;
  readonly eot: number | null;
  readonly eom: number | null;
  readonly unk: number | null;
  readonly pad: number | null;
  readonly addBos: boolean;
  readonly addEos: boolean;
  /** llama (SPM): prefix a space to text at the start and after special tokens; strip it when decoding. */
  readonly addSpacePrefix: boolean;
  /** llama_detokenize's clean_spaces. */
  readonly cleanSpaces: boolean;
  readonly eog: ReadonlySet<number>;
  /** Tokens matched in raw text before tokenizing (CONTROL, USER_DEFINED, UNKNOWN), longest first. */
  readonly specialTokens: readonly number[];
}

// Texts llama.cpp recognises (src/llama-vocab.cpp, "auto-detect special tokens by text").
const EOT_TEXTS = ['<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>', '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>'];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS = {
  pre: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  suf: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  mid: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};
const EOG_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>', '<|endoftext|>',
  '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>', '<eos>', '<turn|>',
  '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[',
];

const KEY = (k: string) => `tokenizer.ggml.${k}`;

export function loadVocab(meta: Metadata): Vocab {
  const modelName = optString(meta, KEY('model'));
  if (modelName === undefined) throw new ModelFileError('InvalidModelFile', 'the file has no tokenizer.ggml.model; it carries no tokenizer');
  if (modelName !== 'gpt2' && modelName !== 'llama') {
    throw new ModelFileError(
      'UnsupportedTokenizer',
      `tokenizer.ggml.model is '${modelName}'; inpage supports 'gpt2' (byte-level BPE) and 'llama' (SentencePiece-style BPE)`,
    );
  }
  const model: TokenizerModel = modelName;

  const rawTokens = optStringArray(meta, KEY('tokens'));
  if (!rawTokens || rawTokens.length === 0) throw invalidMetadata(KEY('tokens'), 'is missing or empty');
  const n = rawTokens.length;
  // llama.cpp renames empty tokens so that each text maps to one id.
  const tokens = rawTokens.map((t, i) => (t === '' ? `[EMPTY_${i}]` : t));
  const tokenToId = new Map<string, number>();
  tokens.forEach((t, i) => tokenToId.set(t, i));
  if (tokenToId.size !== n) throw invalidMetadata(KEY('tokens'), 'contains duplicate tokens (llama.cpp refuses such files too)');

  const types = optNumberArray(meta, KEY('token_type'));
  if (types && types.length < n) throw invalidMetadata(KEY('token_type'), `has ${types.length} entries for ${n} tokens`);
  const attrs = new Uint16Array(n);
  for (let i = 0; i < n; i++) attrs[i] = types ? (TYPE_TO_ATTR[types[i]!] ?? ATTR.UNDEFINED) : ATTR.NORMAL;

  const rawScores = optNumberArray(meta, KEY('scores'));
  if (rawScores && rawScores.length < n) throw invalidMetadata(KEY('scores'), `has ${rawScores.length} entries for ${n} tokens`);
  const scores = new Float32Array(n);
  if (rawScores) for (let i = 0; i < n; i++) scores[i] = rawScores[i]!;

  const preName = optString(meta, KEY('pre'));
  let pre: PreTokenizer | undefined;
  const mergeRanks = new Map<string, Map<string, number>>();
  // llama.cpp's defaults before the file's keys apply.
  let bos: number | null = 1, eos: number | null = 2, unk: number | null = 0;
  let addBos = true, addEos = false, addSpacePrefix = true, cleanSpaces = false;
  if (model === 'gpt2') {
    pre = preTokenizerFor(preName);
    if (!pre) {
      throw new ModelFileError(
        'UnsupportedTokenizer',
        `tokenizer.ggml.pre is '${preName}', a pre-tokenizer inpage does not implement; known: ${KNOWN_PRE_TOKENIZERS.join(', ')}`,
      );
    }
    const merges = optStringArray(meta, KEY('merges'));
    if (!merges) throw invalidMetadata(KEY('merges'), 'is missing (byte-level BPE needs its merges)');
    merges.forEach((m, rank) => {
      // llama.cpp splits at the first space after the first byte, so a left part may start with a space.
      const at = m.indexOf(' ', 1);
      const [left, right] = at >= 0 ? [m.slice(0, at), m.slice(at + 1)] : ['', ''];
      let row = mergeRanks.get(left);
      if (!row) mergeRanks.set(left, (row = new Map()));
      if (!row.has(right)) row.set(right, rank);
    });
    bos = eos = 11;
    unk = null;
    addBos = pre.addBos;
    addSpacePrefix = false;
    cleanSpaces = pre.cleanSpaces;
  }
  addSpacePrefix = optBool(meta, KEY('add_space_prefix')) ?? addSpacePrefix;

  // Explicit ids win when in range; out-of-range ids (file's or default) are dropped as llama.cpp does.
  const inRange = (id: number | null) => (id !== null && id < n ? id : null);
  const special = (key: string, dflt: number | null) => {
    const v = optUint(meta, KEY(key));
    return v !== undefined && v < n ? v : inRange(dflt);
  };
  bos = special('bos_token_id', bos);
  eos = special('eos_token_id', eos);
  unk = special('unknown_token_id', unk);
  let eot = special('eot_token_id', null);
  let eom = special('eom_token_id', null);
  const pad = special('padding_token_id', null);
  addBos = optBool(meta, KEY('add_bos_token')) ?? addBos;
  addEos = optBool(meta, KEY('add_eos_token')) ?? addEos;

  const forceControl = (id: number) => {
    attrs[id] = attrs[id]! | ATTR.CONTROL;
  };
  // llama.cpp walks an unordered_map here, so with several candidates its pick is unspecified; take the
  // lowest id. Every candidate of the EOT/EOM lists also ends generation below, so the EOG set is the same.
  const findByText = (texts: readonly string[]) => {
    let best: number | null = null;
    for (const t of texts) {
      const id = tokenToId.get(t);
      if (id !== undefined && (best === null || id < best)) best = id;
    }
    if (best !== null) forceControl(best);
    return best;
  };
  if (eot === null) eot = findByText(EOT_TEXTS);
  if (eom === null) eom = findByText(EOM_TEXTS);
  const fim = Object.fromEntries(Object.entries(FIM_TEXTS).map(([k, texts]) => [k, findByText(texts)])) as Record<keyof typeof FIM_TEXTS, number | null>;

  const eog = new Set<number>();
  for (const id of [fim.pad, fim.rep, fim.sep]) if (id !== null) eog.add(id);
  for (const t of EOG_TEXTS) {
    const id = tokenToId.get(t);
    if (id !== undefined) {
      eog.add(id);
      forceControl(id);
    }
  }
  // gpt-oss: always rendered, never control.
  for (const t of ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>']) {
    const id = tokenToId.get(t);
    if (id !== undefined) attrs[id] = ATTR.USER_DEFINED;
  }
  for (const id of [eos, eot, eom]) if (id !== null) eog.add(id);
  // o200k_harmony / solar-open: <|end|> ends a message, not generation.
  const inEog = (t: string) => {
    const id = tokenToId.get(t);
    return id !== undefined && eog.has(id) ? id : undefined;
  };
  const end = inEog('<|end|>');
  if (end !== undefined && ((inEog('<|return|>') !== undefined && inEog('<|call|>') !== undefined) || (inEog('<|calls|>') !== undefined && inEog('<|flush|>') !== undefined))) {
    eog.delete(end);
    attrs[end] = ATTR.USER_DEFINED;
  }
  // Gemma 4 / PaddleOCR: </s> is not end-of-generation when <|tool_response> is.
  const s = inEog('</s>');
  if (s !== undefined && inEog('<|tool_response>') !== undefined) {
    eog.delete(s);
    attrs[s] = ATTR.NORMAL;
  }

  // Longest first, by UTF-8 length as llama.cpp compares; ties by id (llama.cpp's std::sort leaves them unspecified).
  const specialTokens: number[] = [];
  for (let i = 0; i < n; i++) if (attrs[i]! & (ATTR.CONTROL | ATTR.USER_DEFINED | ATTR.UNKNOWN)) specialTokens.push(i);
  const len = new Map(specialTokens.map((id) => [id, utf8Length(tokens[id]!)]));
  specialTokens.sort((a, b) => len.get(b)! - len.get(a)! || a - b);

  // Phi-3 (by general.name, as llama.cpp decides it): special tokens swallow the whitespace after them.
  const name = (optString(meta, 'general.name') ?? '').toLowerCase();
  if (name.includes('phi-3') || name.includes('phi3')) {
    for (const id of specialTokens) attrs[id] = attrs[id]! | ATTR.RSTRIP;
    const set = (t: string, on: boolean) => {
      const id = tokenToId.get(t);
      if (id !== undefined) attrs[id] = on ? attrs[id]! | ATTR.RSTRIP : attrs[id]! & ~ATTR.RSTRIP;
    };
    set('</s>', true);
    for (const t of ['<unk>', '<s>', '<|endoftext|>']) set(t, false);
  }

  return {
    model, tokens, attrs, scores, tokenToId, mergeRanks, pre, preName, bos, eos, eot, eom, unk, pad,
    addBos, addEos, addSpacePrefix, cleanSpaces, eog, specialTokens,
  };
}
