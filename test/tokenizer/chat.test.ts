/**
 * Chat templates: real models' templates rendered with @huggingface/jinja, checked against the prompt
 * formats those models document (Qwen2.5 ChatML, Meta's Llama 3 / 3.2 / 2 formats) and against
 * llama.cpp's own test expectations (tests/test-chat-template.cpp); then the prompt's tokenization against
 * llama.cpp (one BOS, chat markers as single control tokens).
 */
import { describe, expect, it } from 'vitest';
import { InpageError } from '../../src/errors';
import { CHATML_TEMPLATE, ChatTemplate, createTokenizer, renderChatTemplate, type ChatMessage } from '../../src/tokenizer';
import { FIXTURE_GGUF, bpeVariantMetadata, openTokenizerFile, writeTokenizerGguf } from './files';
import { LLAMA2_TEMPLATE, LLAMA32_TEMPLATE, LLAMA3_TEMPLATE, OPENHERMES_TEMPLATE, QWEN25_TEMPLATE } from './templates';

const SYSTEM_USER: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'Hello' },
];
const MULTI_TURN: ChatMessage[] = [
  ...SYSTEM_USER,
  { role: 'assistant', content: 'Hi there' },
  { role: 'user', content: 'Who are you?' },
];

async function errorOf(f: () => unknown): Promise<InpageError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof InpageError) return e;
    throw e;
  }
  throw new Error('expected an error');
}

describe('real templates render their documented prompt formats', () => {
  it('Qwen2.5 (ChatML, with its default system prompt when none is given)', () => {
    expect(renderChatTemplate(QWEN25_TEMPLATE, SYSTEM_USER)).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(renderChatTemplate(QWEN25_TEMPLATE, [{ role: 'user', content: 'Hello' }])).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(renderChatTemplate(QWEN25_TEMPLATE, MULTI_TURN, { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n' +
        '<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you?<|im_end|>\n',
    );
  });

  it('Llama 3 Instruct', () => {
    expect(renderChatTemplate(LLAMA3_TEMPLATE, MULTI_TURN, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>' })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nHi there<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWho are you?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('Llama 3.2 Instruct (knowledge-cutoff header, date from a template variable)', () => {
    expect(renderChatTemplate(LLAMA32_TEMPLATE, SYSTEM_USER, { bosToken: '<|begin_of_text|>', variables: { date_string: '26 Jul 2024' } })).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nYou are a helpful assistant.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  it('Llama 2 chat (system folded into the first [INST], BOS per turn)', () => {
    expect(renderChatTemplate(LLAMA2_TEMPLATE, MULTI_TURN, { bosToken: '<s>', eosToken: '</s>' })).toBe(
      '<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello [/INST] Hi there </s><s>[INST] Who are you? [/INST]',
    );
  });

  it('ChatML (OpenHermes) on llama.cpp’s test conversation gives llama.cpp’s expected output', () => {
    const conversation: ChatMessage[] = [
      { role: 'system', content: 'You are a helpful assistant' },
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi there' },
      { role: 'user', content: 'Who are you' },
      { role: 'assistant', content: '   I am an assistant   ' },
      { role: 'user', content: 'Another question' },
    ];
    const expected =
      '<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n' +
      '<|im_start|>user\nWho are you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n' +
      '<|im_start|>assistant\n';
    expect(renderChatTemplate(OPENHERMES_TEMPLATE, conversation)).toBe(expected);
    // llama.cpp's fallback template is the same format.
    expect(renderChatTemplate(CHATML_TEMPLATE, conversation)).toBe(expected);
  });

  it('reports a template’s own rejection (raise_exception) as an invalid argument', async () => {
    const e = await errorOf(() => renderChatTemplate(LLAMA2_TEMPLATE, [{ role: 'assistant', content: 'first' }]));
    expect(e.code).toBe('InvalidArgument');
    expect(e.message).toContain('Conversation roles must alternate');
  });

  it('reports a template that does not parse as an invalid model file', async () => {
    expect((await errorOf(() => new ChatTemplate('{% for m in messages %}'))).code).toBe('InvalidModelFile');
  });
});

describe('files without a chat template', () => {
  it('is an error unless a fallback is asked for', async () => {
    const e = await errorOf(() => renderChatTemplate(undefined, SYSTEM_USER));
    expect(e.code).toBe('UnsupportedTokenizer');
    expect(e.message).toMatch(/no chat template.*fallback/s);
  });

  it('falls back to ChatML or to plain "role: content" lines when asked', () => {
    expect(renderChatTemplate(undefined, SYSTEM_USER, { fallback: 'chatml' })).toBe(
      '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(renderChatTemplate('', SYSTEM_USER, { fallback: 'plain' })).toBe('system: You are a helpful assistant.\nuser: Hello\nassistant:');
  });

  it('the fixture model (no template) refuses chat by default', async () => {
    const file = await openTokenizerFile('fixture', FIXTURE_GGUF);
    const tok = createTokenizer(file.metadata);
    expect((await errorOf(() => ChatTemplate.fromMetadata(file.metadata, tok))).code).toBe('UnsupportedTokenizer');
    // The plain fallback renders prose the fixture model can continue, with no BOS text to strip.
    expect(ChatTemplate.fromMetadata(file.metadata, tok, { fallback: 'plain' }).render([{ role: 'user', content: 'Hi' }])).toBe('user: Hi\nassistant:');
  });
});

describe('rendered prompts tokenize as llama.cpp tokenizes them', () => {
  it('Llama 3: the template’s BOS text is dropped for the tokenizer’s own BOS; markers are single control tokens', async () => {
    const base = await openTokenizerFile('fixture', FIXTURE_GGUF);
    const path = writeTokenizerGguf('chat-llama3', bpeVariantMetadata(base.metadata, 'llama-bpe'));
    const file = await openTokenizerFile('chat-llama3', path);
    const meta = { ...file.metadata, 'tokenizer.chat_template': LLAMA3_TEMPLATE };
    const tok = createTokenizer(meta);
    const prompt = ChatTemplate.fromMetadata(meta, tok).render(MULTI_TURN);
    expect(prompt.startsWith('<|start_header_id|>system')).toBe(true);
    const ids = tok.encode(prompt, { parseSpecial: true });
    expect(ids.filter((id) => id === tok.bosId)).toHaveLength(1);
    expect(ids).toEqual([Number(file.oracle.tokens.bos), ...file.oracle.tokenize(prompt, true).map(Number)]);
    expect(ids).toContain(tok.tokenId('<|start_header_id|>'));
    // Without special parsing the same text is plain text: no control ids appear.
    expect(tok.encode(prompt, { addBos: false })).not.toContain(tok.tokenId('<|start_header_id|>'));
    expect(tok.decode(ids)).toBe(`<|begin_of_text|>${prompt}`);
  });

  it('Qwen2.5: ChatML markers become the vocabulary’s <|im_start|>/<|im_end|> ids, as in llama.cpp', async () => {
    const base = await openTokenizerFile('fixture', FIXTURE_GGUF);
    const file = await openTokenizerFile('chat-qwen2', writeTokenizerGguf('chat-qwen2', bpeVariantMetadata(base.metadata, 'qwen2')));
    const tok = createTokenizer(file.metadata);
    const prompt = renderChatTemplate(QWEN25_TEMPLATE, MULTI_TURN);
    const ids = tok.encode(prompt, { addBos: false, parseSpecial: true });
    expect(ids).toEqual(file.oracle.tokenize(prompt, true).map(Number));
    expect(ids.filter((id) => id === tok.tokenId('<|im_start|>'))).toHaveLength(5);
    expect(tok.isEndOfGeneration(tok.tokenId('<|im_end|>')!)).toBe(true);
  });
});
