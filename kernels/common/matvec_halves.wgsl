// Shared include of the matvec kernels of the 16-bit float types (F16, BF16), after common/matvec_rows.wgsl:
// the loop along a row of any length. The type's file supplies
//   fn halves(w: u32) -> vec2<f32>   the two values packed in word w (low half first)
// A unit is 16 values (32 bytes); rows start mid-word when cols is odd (MID_WORD_ROWS) and the last
// cols % 16 values are done one by one.

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
      acc += xk * vec4<f32>(half_value(s.x + 2u * k), half_value(s.y + 2u * k), half_value(s.z + 2u * k), half_value(s.w + 2u * k));
    }
  }
  return acc;
}

// The value at the 2-aligned byte offset `at`.
fn half_value(at: u32) -> f32 {
  let word = weights[at >> 2u];
  return halves(select(word, word >> 16u, (at & 2u) != 0u)).x;
}

// Σ w·x over the 16 values at the 2-aligned byte offset `at`, against xq[0..3].
fn unit_dot(at: u32) -> f32 {
#if MID_WORD_ROWS
  let a = run4(at);
  let b = run4(at + 16u);
#else
  // Even cols: every row starts on a word boundary, no realignment.
  let w = at / 4u;
  let a = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let b = vec4<u32>(weights[w + 4u], weights[w + 5u], weights[w + 6u], weights[w + 7u]);
#endif
  return dot(vec4<f32>(halves(a.x), halves(a.y)), xq[0]) + dot(vec4<f32>(halves(a.z), halves(a.w)), xq[1])
       + dot(vec4<f32>(halves(b.x), halves(b.y)), xq[2]) + dot(vec4<f32>(halves(b.z), halves(b.w)), xq[3]);
}
