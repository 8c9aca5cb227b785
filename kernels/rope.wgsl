// RoPE, in place: for token t at position p = offset + t, every head of x [tokens, heads, headDim] has its
// pairs rotated by the angle freq_scale·p·θ_i / f_i, i < ropeDim/2, with θ_i = base^(−2i/ropeDim) and f_i
// the pair's frequency factor (1 unless FREQ_FACTORS). Which elements form pair i is the convention:
//  - adjacent pairs (x[2i], x[2i+1]): GGUF `llama` (llama.cpp rope mode 0), the default;
//  - HALVES, (x[i], x[i + ropeDim/2]): `qwen2` / GPT-NeoX (llama.cpp rope mode 2).
// Dims past ropeDim are untouched (partial rotary). One invocation per rotated pair.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/rope.ts.
@group(0) @binding(1) var<storage, read_write> x: array<act>;
#if FREQ_FACTORS
// rope_freqs (Llama 3.1-style): ropeDim/2 f32 divisors of the angle, one per pair.
@group(0) @binding(2) var<storage, read> freq_factors: array<f32>;
#endif

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.tokens * params.heads * params.half_rope) {
    return;
  }
  let pair = i % params.half_rope;
  let head_row = i / params.half_rope; // token * heads + head
  let token = head_row / params.heads;
  let head_base = head_row * params.head_dim;
#if HALVES
  let first = head_base + pair;
  let second = first + params.half_rope;
#else
  let first = head_base + 2u * pair;
  let second = first + 1u;
#endif

  // rope_cos_sin (kernels/common/rope_angle.wgsl) is accurate at angles of thousands of radians.
#if FREQ_FACTORS
  let angle = rope_angle_divided(params.offset + token, pair, params.theta_scale, freq_factors[pair], params.freq_scale);
#else
  let angle = rope_angle(params.offset + token, pair, params.theta_scale, params.freq_scale);
#endif
  let cs = rope_cos_sin(angle);
  let c = cs.x;
  let s = cs.y;

  let x0 = f32(x[first]);
  let x1 = f32(x[second]);
  x[first] = act(x0 * c - x1 * s);
  x[second] = act(x0 * s + x1 * c);
}
