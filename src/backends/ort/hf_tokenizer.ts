/**
 * A Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) as the ModelTokenizer the LanguageModel
 * uses, on @huggingface/tokenizers. The BOS token comes from the tokenizer's own post-processor (its
 * TemplateProcessing), as transformers does it; streaming decode holds back text until it is valid UTF-8
 * and decodes with a prefix window so that SentencePiece-style leading spaces come out right.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelFileError } from '../../errors';
import type { ModelTokenizer } from '../../llm/language_model';
import { LITERAL_MARK } from '../../tokenizer';

export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  add_bos_token?: boolean;
  chat_template?: string | { name: string; template: string }[] | null;
  [key: string]: unknown;
}

export interface HfTokenizerOptions {
  vocabSize: number;
  bosId?: number;
  /** Every id that ends generation (config + generation_config + tokenizer_config eos). */
  eosIds: readonly number[];
}

/** Everything an HfTokenizer is built from, as plain data (it crosses the worker boundary). */
export interface HfTokenizerSpec {
  json: object;
  config: HfTokenizerConfig;
  options: HfTokenizerOptions;
}

/** The metadata key an ONNX model's tokenizer travels under to the page (src/runtime/client.ts). */
export const HF_TOKENIZER_KEY = 'tokenizer.huggingface';

/** The page's copy of a worker-side ONNX model's tokenizer; undefined for GGUF metadata. */
export function hfTokenizerFromMetadata(metadata: Record<string, unknown>): HfTokenizer | undefined {
  const spec = metadata[HF_TOKENIZER_KEY] as HfTokenizerSpec | undefined;
  return spec ? new HfTokenizer(spec.json, spec.config, spec.options) : undefined;
}

export function tokenText(t: HfTokenizerConfig['bos_token']): string | undefined {
  if (t === null || t === undefined) return undefined;
  return typeof t === 'string' ? t : t.content;
}

export class HfTokenizer implements ModelTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | undefined;
  readonly eosId: number | undefined;
  /** Whether encode() puts BOS first by itself (the post-processor does), for chat templates' BOS stripping. */
  readonly addsBos: boolean;
  private readonly hf: Tokenizer;
  private readonly eos: Set<number>;
  /** The texts of tokenizer.json's special added tokens (what message content must not be able to produce). */
  private readonly specialTexts: string[];

  constructor(tokenizerJson: object, config: HfTokenizerConfig, o: HfTokenizerOptions) {
    try {
      this.hf = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new ModelFileError('UnsupportedTokenizer', `tokenizer.json could not be read: ${(e as Error).message}`, { cause: e });
    }
    this.vocabSize = o.vocabSize;
    const bosText = tokenText(config.bos_token);
    this.bosId = o.bosId ?? (bosText !== undefined ? this.hf.token_to_id(bosText) : undefined);
    this.eos = new Set(o.eosIds);
    const added = (tokenizerJson as { added_tokens?: { content?: unknown; special?: unknown }[] }).added_tokens ?? [];
    this.specialTexts = added.filter((t) => t.special === true && typeof t.content === 'string').map((t) => t.content as string);
    const eosText = tokenText(config.eos_token);
    const eosFromText = eosText !== undefined ? this.hf.token_to_id(eosText) : undefined;
    if (eosFromText !== undefined) this.eos.add(eosFromText);
    this.eosId = o.eosIds[0] ?? eosFromText;
    const probe = this.hf.encode('a', { add_special_tokens: true }).ids;
    this.addsBos = this.bosId !== undefined && probe[0] === this.bosId;
  }

  encode(text: string, options: { addBos?: boolean; parseSpecial?: boolean } = {}): number[] {
    // Special tokens written in the text are always recognised (tokenizer.json's added tokens), except
    // where protectLiteral broke them up: the pieces between marks are encoded one after another, so the
    // protected text becomes ordinary tokens (not necessarily the ones a whole-string encode would give:
    // @huggingface/tokenizers has no switch to turn its added-token matching off).
    const pieces = text.split(LITERAL_MARK);
    const ids = this.hf.encode(pieces[0]!, { add_special_tokens: options.addBos ?? true }).ids;
    for (const piece of pieces.slice(1)) if (piece !== '') ids.push(...this.hf.encode(piece, { add_special_tokens: false }).ids);
    return ids;
  }

  protectLiteral(text: string): string {
    let out = text;
    for (const t of this.specialTexts) if (t.length > 1 && out.includes(t)) out = out.replaceAll(t, [...t].join(LITERAL_MARK));
    return out;
  }

  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return ''; // @huggingface/tokenizers refuses an empty list
    return this.hf.decode([...ids], { skip_special_tokens: options.skipSpecial ?? false, clean_up_tokenization_spaces: false });
  }

  createStreamDecoder(): { push(id: number): string; flush(): string } {
    const ids: number[] = [];
    // Text is emitted as decode(ids[prefix..]) minus decode(ids[prefix..read]): decoding with a little
    // context keeps leading-space rules of the decoder consistent with a whole-sequence decode.
    let prefix = 0;
    let read = 0;
    const text = (from: number, to: number) => this.decode(ids.slice(from, to), { skipSpecial: true });
    return {
      push: (id: number) => {
        ids.push(id);
        const before = text(prefix, read);
        const now = text(prefix, ids.length);
        if (now.length <= before.length || now.endsWith('\uFFFD')) return '';
        prefix = read;
        read = ids.length;
        return now.slice(before.length);
      },
      flush: () => {
        const before = text(prefix, read);
        const now = text(prefix, ids.length);
        prefix = read = ids.length;
        return now.length > before.length ? now.slice(before.length) : '';
      },
    };
  }

  isEndOfGeneration(id: number): boolean {
    return this.eos.has(id);
  }
}
