// y[r] = Σ_k W[r,k]·x[k] for an F16 weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl. A unit is 16 values (32 bytes); a row of any length is
// allowed, so a row may start mid-word (odd cols) and the last cols % 16 values are done one by one.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let cols = params.cols;
  let row_bytes = 2u * cols;
  let s = vec4<u32>(row_start(row0, 0u, row_bytes), row_start(row0, 1u, row_bytes), row_start(row0, 2u, row_bytes), row_start(row0, 3u, row_bytes));
  let units = cols / 16u;
  var acc = vec4<f32>(0.0);
  for (var u = lane; u < units; u += TPR) {
    load_quad(4u * u, 0u);
    let at = 32u * u;
    acc += vec4<f32>(unit_dot(s.x + at), unit_dot(s.y + at), unit_dot(s.z + at), unit_dot(s.w + at));
  }
  // The tail, on the lane whose turn it would be.
  if (lane == units % TPR) {
    for (var k = 16u * units; k < cols; k++) {
      let xk = x4(k / 4u)[k % 4u];
      acc += xk * vec4<f32>(half_at(s.x + 2u * k), half_at(s.y + 2u * k), half_at(s.z + 2u * k), half_at(s.w + 2u * k));
    }
  }
  return acc;
}

// Σ w·x over the 16 values at the 2-aligned byte offset `at`, against xq[0..3].
fn unit_dot(at: u32) -> f32 {
#if PARITY_ALTERNATES
  let a = run4(at);
  let b = run4(at + 16u);
#else
  // Even cols: every row starts on a word boundary, no realignment.
  let w = at / 4u;
  let a = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let b = vec4<u32>(weights[w + 4u], weights[w + 5u], weights[w + 6u], weights[w + 7u]);
#endif
  return dot(vec4<f32>(unpack2x16float(a.x), unpack2x16float(a.y)), xq[0]) + dot(vec4<f32>(unpack2x16float(a.z), unpack2x16float(a.w)), xq[1])
       + dot(vec4<f32>(unpack2x16float(b.x), unpack2x16float(b.y)), xq[2]) + dot(vec4<f32>(unpack2x16float(b.z), unpack2x16float(b.w)), xq[3]);
}
