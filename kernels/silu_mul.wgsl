// out[i] = silu(gate[i]) · up[i] with silu(g) = g / (1 + e^(−g)): the SwiGLU gating of a feed-forward
// block, on [tokens, dim] activations flattened to `count` elements (gate and up are separate buffers).
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/activation.ts.
@group(0) @binding(1) var<storage, read> gate: array<act>;
@group(0) @binding(2) var<storage, read> up: array<act>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let g = f32(gate[i]);
  // For g → −∞, e^(−g) overflows to +∞ and g / ∞ is −0: the correct limit, no NaN.
  out[i] = act(g / (1.0 + exp(-g)) * f32(up[i]));
}
