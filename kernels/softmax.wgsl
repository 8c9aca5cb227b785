// out[r, i] = e^(s·x[r, i] − m) / Σ_j e^(s·x[r, j] − m), m = max_j s·x[r, j], s = 1/temperature > 0.
// Subtracting the max keeps every exponent ≤ 0, so nothing overflows whatever the logits' range.
// One workgroup per row; threads stride over the row keeping an online (max, sum) pair (the sum is
// rescaled whenever the max grows), so the row is read twice (reduce, then write) instead of three
// times, which matters for a 151936-entry vocabulary.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/softmax.ts.
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> out: array<act>;

override WG: u32 = 256; // a power of two (the tree reduction halves it)

var<workgroup> row_max: array<f32, WG>;
var<workgroup> row_sum: array<f32, WG>;

// The most negative f32: the max of a slice seen so far starts here rather than at −∞ (which WGSL cannot
// even write as a constant), so e^(m_part − m) never meets −∞ − (−∞) = NaN: a slice holding only −∞ keeps
// this max and a sum of 0. (A row with no finite entry has no softmax; it comes out NaN, as in llama.cpp.)
const LOWEST: f32 = -0x1.fffffep+127f;

// s·e^(m_part − m): a partial sum s taken relative to the max m_part, re-expressed relative to m ≥ m_part.
fn rescaled(s: f32, m_part: f32, m: f32) -> f32 {
  return s * exp(m_part - m);
}

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform per workgroup (grid padding), so the barriers below stay in uniform control flow.
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;

  var m = LOWEST;
  var s = 0.0;
  for (var i = lid; i < params.cols; i += WG) {
    let v = f32(x[base + i]) * params.scale;
    let new_max = max(m, v);
    s = rescaled(s, m, new_max) + rescaled(1.0, v, new_max);
    m = new_max;
  }
  row_max[lid] = m;
  row_sum[lid] = s;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step >>= 1u) {
    if (lid < step) {
      let m_a = row_max[lid];
      let m_b = row_max[lid + step];
      let merged = max(m_a, m_b);
      row_sum[lid] = rescaled(row_sum[lid], m_a, merged) + rescaled(row_sum[lid + step], m_b, merged);
      row_max[lid] = merged;
    }
    workgroupBarrier();
  }
  let total_max = row_max[0];
  let inv_sum = 1.0 / row_sum[0];

  for (var i = lid; i < params.cols; i += WG) {
    out[base + i] = act(exp(f32(x[base + i]) * params.scale - total_max) * inv_sum);
  }
}
