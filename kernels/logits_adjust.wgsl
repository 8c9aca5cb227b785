// Applies logit bias and repetition / presence / frequency penalties in place, to the few token ids that
// have any (the CPU lists them: ids in the penalty window plus logit_bias keys; each id at most once, so
// invocations never write the same logit). Formula as llama.cpp's penalties sampler, bias first:
//   l += bias; if count > 0: l = l > 0 ? l / rep : l * rep; l -= count * freq + presence
struct Adjustment {
  id: u32,
  count: u32,
  bias: f32,
  _pad: u32,
}
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/logits.ts.
@group(0) @binding(1) var<storage, read_write> logits: array<act>;
@group(0) @binding(2) var<storage, read> adjustments: array<Adjustment>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i >= params.count) {
    return;
  }
  let a = adjustments[i];
  var l = f32(logits[a.id]) + a.bias;
  if (a.count > 0u) {
    l = select(l * params.repetition_penalty, l / params.repetition_penalty, l > 0.0);
    l -= f32(a.count) * params.frequency_penalty + params.presence_penalty;
  }
  logits[a.id] = act(l);
}
