// The request validator (src/llm/request.ts) on its own: every field's rule, without a model. Through a
// loaded model (rejection at create(), the engine usable afterwards) in api.test.ts.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnsupportedFeatureError } from '../../src/errors';
import { checkChatRequest, checkCompletionRequest } from '../../src/llm/request';

const VOCAB = 1024;
const completion = (extra: Record<string, unknown>) => () => checkCompletionRequest({ prompt: 'Hi', ...extra }, VOCAB);

describe('request validation', () => {
  it('accepts every field in range, and null as "not given" for every optional field', () => {
    const ac = new AbortController();
    const r = checkCompletionRequest({
      prompt: 'Hi', temperature: 0.7, top_k: 40, top_p: 0.9, min_p: 0.05, repetition_penalty: 1.1, presence_penalty: -2,
      frequency_penalty: 100, penalty_last_n: -1, logit_bias: { 5: -100, '7': 100 }, seed: -3, max_tokens: 0, stop: ['\n', 'END'],
      signal: ac.signal, stream: true, stream_options: { include_usage: true }, model: 'gpt-4o', user: 'u1', n: 1, logprobs: false,
      tools: [], tool_choice: 'none', response_format: { type: 'text' },
    }, VOCAB);
    expect(r.options).toMatchObject({ temperature: 0.7, top_k: 40, max_tokens: 0, stop: ['\n', 'END'], stream: true, signal: ac.signal });
    expect(r.options).not.toHaveProperty('model');
    const nulls = checkCompletionRequest({ prompt: 'Hi', temperature: null, max_tokens: null, stop: null, seed: null, top_p: null, logit_bias: null }, VOCAB);
    expect(nulls.options).toEqual({ stop: [], stream: false });
    expect(checkCompletionRequest({ prompt: 'Hi', max_completion_tokens: 9 }, VOCAB).options.max_tokens).toBe(9);
    expect(checkCompletionRequest({ prompt: 'Hi', stop: 'x' }, VOCAB).options.stop).toEqual(['x']);
    expect(checkCompletionRequest({ prompt: [1, 2, 1023] }, VOCAB).prompt).toEqual([1, 2, 1023]);
  });

  it.each([
    ['temperature', -1], ['temperature', Number.NaN], ['temperature', 1e39], ['top_p', 0], ['top_p', 1.5], ['top_k', -1], ['top_k', 2.5],
    ['min_p', 2], ['repetition_penalty', 0], ['repetition_penalty', 1e39], ['presence_penalty', 1e39], ['frequency_penalty', -1e39],
    ['penalty_last_n', -2], ['max_tokens', -1], ['max_tokens', 2.5], ['max_tokens', '5'], ['seed', 0.5], ['stream', 'yes'],
    ['logit_bias', { [VOCAB]: 1 }], ['logit_bias', { '-1': 1 }], ['logit_bias', { '1.5': 1 }], ['logit_bias', { 5: Infinity }],
    ['logit_bias', { 5: 1e39 }], ['logit_bias', [1]], ['stop', [null]], ['stop', ''], ['stop', 5], ['signal', {}],
    ['stream_options', { include_usage: 1 }], ['maxTokens', 5], ['top-p', 0.5],
  ])('%s = %j is an InvalidArgumentError naming the field', (field, value) => {
    const e = captured(completion({ [field]: value }));
    expect(e).toBeInstanceOf(InvalidArgumentError);
    expect((e as Error).message).toContain(field);
  });

  it('max_tokens and max_completion_tokens that disagree are refused', () => {
    expect(completion({ max_tokens: 3, max_completion_tokens: 4 })).toThrow(/disagree/);
    expect(completion({ max_tokens: 4, max_completion_tokens: 4 })).not.toThrow();
  });

  it.each([
    ['n', 2], ['best_of', 3], ['logprobs', true], ['logprobs', 2], ['top_logprobs', 3], ['echo', true], ['suffix', 'x'],
    ['tools', [{ type: 'function', function: { name: 'f' } }]], ['tool_choice', 'auto'], ['functions', [{ name: 'f' }]],
    ['function_call', 'auto'], ['response_format', { type: 'json_object' }],
  ])('%s = %j (not implemented yet) is an UnsupportedFeatureError, not silently dropped', (field, value) => {
    const e = captured(completion({ [field]: value }));
    expect(e).toBeInstanceOf(UnsupportedFeatureError);
    expect((e as UnsupportedFeatureError).code).toBe('UnsupportedFeature');
    expect((e as Error).message).toContain(field);
  });

  it('prompts: a string or token ids; anything else is typed, with a message about the prompt', () => {
    for (const prompt of [undefined, 5, null, {}, [], [1, VOCAB], [1, -1], [1, 2.5]]) {
      const e = captured(() => checkCompletionRequest({ prompt }, VOCAB));
      expect(e, JSON.stringify(prompt)).toBeInstanceOf(InvalidArgumentError);
      expect((e as Error).message).toMatch(/prompt/);
    }
    const batch = captured(() => checkCompletionRequest({ prompt: ['Once upon a time', 'Love is'] }, VOCAB));
    expect(batch).toBeInstanceOf(UnsupportedFeatureError);
    expect((batch as Error).message).not.toMatch(/vocabulary/);
    for (const req of [undefined, null, 'Hi', [1]]) expect(captured(() => checkCompletionRequest(req, VOCAB))).toBeInstanceOf(InvalidArgumentError);
  });

  it("messages: OpenAI's shapes (text parts, null content with tool_calls) become template text; others are typed", () => {
    const calls = [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }];
    const r = checkChatRequest({
      messages: [
        { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
        { role: 'user', content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: 'there' }] },
        { role: 'assistant', content: null, tool_calls: calls },
        { role: 'tool', content: '42', tool_call_id: 'c1' },
      ],
    }, VOCAB);
    expect(r.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hello\nthere' },
      { role: 'assistant', content: '', tool_calls: calls },
      { role: 'tool', content: '42', tool_call_id: 'c1' },
    ]);
    const image = captured(() => checkChatRequest({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, VOCAB));
    expect(image).toBeInstanceOf(UnsupportedFeatureError);
    expect((image as Error).message).toMatch(/image_url/);
    for (const messages of [undefined, [], 'hi', [null], [{ content: 'x' }], [{ role: 'user', content: 5 }], [{ role: 'user', content: [{ type: 'text' }] }]]) {
      expect(captured(() => checkChatRequest({ messages }, VOCAB)), JSON.stringify(messages)).toBeInstanceOf(InvalidArgumentError);
    }
  });
});

function captured(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
