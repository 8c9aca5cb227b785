// Shared include: (max, Σ exp(x - max)) pairs, the numerically safe running form of log Σ exp.
// -FLT_MAX stands for -inf (WGSL has no infinity literal); exp(NEG_MAX - m) is 0 for any finite m.
const NEG_MAX: f32 = -0x1.fffffep+127f;
const EMPTY_MAX_SUM = vec2<f32>(NEG_MAX, 0.0);

// Merges two pairs: both sums rescaled to the larger max. An empty pair merges to the other.
fn merge_max_sum(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  if (m == NEG_MAX) {
    return EMPTY_MAX_SUM;
  }
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
