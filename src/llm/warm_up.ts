/**
 * The last steps of a load, before the model is reported ready: its shaders compiled, then every path of a
 * request run once, so that the first request pays for neither.
 *
 * Recording a prefill chunk and a decode step creates every pipeline the forward pass uses, and the browser
 * compiles a pipeline as it is created; the error check that follows waits until the GPU process has done
 * so, and reports a shader that does not compile now rather than at the first request. The warm-up then runs
 * that work with the token selector's greedy path, runs its sampling path (top-k, penalties) on the same
 * logits, and empties the KV cache again: the outputs are thrown away.
 */
import { Recorder } from '../gpu';
import { samplingParams } from './language_model';
import type { LlamaModel } from './llama';
import { Random } from './sampler';
import type { TokenSelector } from './token_selector';

export async function warmUp(model: LlamaModel, selector: TokenSelector, onPhase: (phase: 'shader-compile' | 'warm-up') => void): Promise<void> {
  const { gpu, cache } = model;
  const token = 0; // any id: the outputs are thrown away
  onPhase('shader-compile');
  const rec = new Recorder(gpu);
  // A prefill chunk takes the matmul and flash-attention kernels, a single token the matvec and split-K ones
  // (a context too short for both gets the decode step only).
  const prefill = Math.min(2, model.maxTokens, cache.contextLength - 1);
  if (prefill === 2) model.forward(rec, [token, token]);
  model.forward(rec, [token]);
  await gpu.checkErrors();
  onPhase('warm-up');
  try {
    const greedy = samplingParams({ temperature: 0, seed: 0 });
    // Every stage of the sampling path: penalties and a bias (logit adjustments), top-k, top-p, min-p.
    const sampled = samplingParams({ temperature: 0.8, top_k: 40, top_p: 0.95, min_p: 0.05, repetition_penalty: 1.1, logit_bias: { [token]: -1 }, seed: 0 });
    await selector.select(rec, model.scratch.logits, greedy, [], new Random(0)); // submits the forward passes too
    await selector.select(new Recorder(gpu), model.scratch.logits, sampled, [token], new Random(0));
  } finally {
    cache.length = 0;
  }
}
