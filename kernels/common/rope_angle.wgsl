// Shared include of rope.wgsl: RoPE's angle for a position and pair, and its
// cos and sin accurate to f32 whatever the GPU's own sin/cos do.

// The angle as llama.cpp's GPU backends form it (ggml_rope_ext): theta_extrap = position · theta_scale^i
// in f32, where theta_scale = base^(−2/ropeDim) was rounded to f32 on the CPU as llama.cpp's powf rounds
// it; then divided by the pair's frequency factor (rope_freqs, only in rope_angle_divided) and multiplied
// by freq_scale (linear scaling, 1/factor; exactly 1 without scaling, so the product is then exact).
// Same operations in the same order, so the f32 angle rounds as llama.cpp's does: each step adds at most
// a few ulp relative to the angle, and dividing by a factor or scaling by freq_scale < 1 only shrinks it.
fn rope_angle(position: u32, pair: u32, theta_scale: f32, freq_scale: f32) -> f32 {
  let theta_extrap = f32(position) * pow(theta_scale, f32(pair));
  return freq_scale * theta_extrap;
}

// rope_angle with llama.cpp's freq_factors: theta_extrap / freq_factor before the scaling. A kernel's
// FREQ_FACTORS variant calls this one; the plain variant keeps rope_angle, with no load and no division.
fn rope_angle_divided(position: u32, pair: u32, theta_scale: f32, freq_factor: f32, freq_scale: f32) -> f32 {
  let theta_extrap = f32(position) * pow(theta_scale, f32(pair));
  return freq_scale * (theta_extrap / freq_factor);
}

// π/2 in three parts (Cody–Waite). The first two have 8 and 11 significant bits, so q·PIO2_1 and q·PIO2_2
// are exact in f32 for q < 2^13 (angles below ~12800 rad) and the reduction adds no error there; beyond,
// its rounding stays far below that of the f32 angle itself.
const PIO2_1: f32 = 1.5703125;
const PIO2_2: f32 = 4.837512969970703125e-4;
const PIO2_3: f32 = 7.54978995489188216e-8;
const TWO_OVER_PI: f32 = 0.6366197723675814;

// (cos a, sin a). At positions in the thousands the angle is thousands of radians, and WGSL promises
// sin/cos only to 2^-11 absolute on [−π, π] (SwiftShader's measure 1.9e-4): so reduce to r in
// [−π/4, π/4] plus a quadrant, and evaluate Taylor polynomials there (truncation < 3e-8). What error
// remains is the f32 rounding of the angle itself, which llama.cpp has as well.
fn rope_cos_sin(a: f32) -> vec2<f32> {
  let q = round(a * TWO_OVER_PI);
  let r = ((a - q * PIO2_1) - q * PIO2_2) - q * PIO2_3;
  let r2 = r * r;
  let s = r + r * r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0))));
  let c = 1.0 - 0.5 * r2 + r2 * r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0)));
  // a = q·π/2 + r: each quarter turn maps (cos, sin) to (−sin, cos).
  switch (u32(i32(q)) & 3u) {
    case 0u: { return vec2<f32>(c, s); }
    case 1u: { return vec2<f32>(-s, c); }
    case 2u: { return vec2<f32>(-c, -s); }
    default: { return vec2<f32>(s, -c); }
  }
}
