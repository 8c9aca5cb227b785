/** Tokenizers from GGUF metadata (llama.cpp-exact), streaming detokenization and chat templates. */
export { createTokenizer, type EncodeOptions, type Tokenizer } from './tokenizer';
export type { DecodeOptions, StreamDecoder } from './decode';
export type { Metadata } from './metadata';
export { KNOWN_PRE_TOKENIZERS } from './pretokenize';
export { LITERAL_MARK } from './special';
export {
  CHATML_TEMPLATE,
  PLAIN_TEMPLATE,
  ChatTemplate,
  renderChatTemplate,
  type ChatFallback,
  type ChatMessage,
  type ChatRenderOptions,
  type ChatTemplateOptions,
} from './chat';
