// y[r] = Σ_k W[r,k]·x[k] for an F32 weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl. A unit is 16 values; a row of any length is allowed, and
// the last cols % 16 values are done one by one.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let cols = params.cols;
  let s = vec4<u32>(row_start(row0, 0u, cols), row_start(row0, 1u, cols), row_start(row0, 2u, cols), row_start(row0, 3u, cols));
  let units = cols / 16u;
  var acc = vec4<f32>(0.0);
  for (var u = lane; u < units; u += TPR) {
    load_quad(4u * u, 0u);
    let at = 16u * u;
    acc += vec4<f32>(unit_dot(s.x + at), unit_dot(s.y + at), unit_dot(s.z + at), unit_dot(s.w + at));
  }
  // The tail, on the lane whose turn it would be.
  if (lane == units % TPR) {
    for (var k = 16u * units; k < cols; k++) {
      let xk = x4(k / 4u)[k % 4u];
      acc += xk * bitcast<vec4<f32>>(vec4<u32>(weights[s.x + k], weights[s.y + k], weights[s.z + k], weights[s.w + k]));
    }
  }
  return acc;
}

// Σ w·x over the 16 values at word `w`, against xq[0..3].
fn unit_dot(w: u32) -> f32 {
  let a = bitcast<vec4<f32>>(vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]));
  let b = bitcast<vec4<f32>>(vec4<u32>(weights[w + 4u], weights[w + 5u], weights[w + 6u], weights[w + 7u]));
  let c = bitcast<vec4<f32>>(vec4<u32>(weights[w + 8u], weights[w + 9u], weights[w + 10u], weights[w + 11u]));
  let d = bitcast<vec4<f32>>(vec4<u32>(weights[w + 12u], weights[w + 13u], weights[w + 14u], weights[w + 15u]));
  return dot(a, xq[0]) + dot(b, xq[1]) + dot(c, xq[2]) + dot(d, xq[3]);
}
