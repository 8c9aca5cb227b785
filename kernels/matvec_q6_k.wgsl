// y[r] = Σ_k W[r,k]·x[k] for a Q6_K weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl; this file decodes the blocks.
// Q6_K block (256 values, 210 bytes, so only 2-byte aligned): ql[128], qh[64], i8 scales[16], f16 d. In
// half n (128 values) and for l = 0..31 (llama.cpp's dequantize_row_q6_K), with ql = ql[64n..], qh = qh[32n..]:
//   value 128n + l      = d·sc[8n + l/16 + 0]·((ql[l] & 15)      | ((qh[l] >> 0) & 3) << 4) − 32)
//   value 128n + l + 32 = d·sc[8n + l/16 + 2]·((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) − 32)
//   value 128n + l + 64 = d·sc[8n + l/16 + 4]·((ql[l] >> 4)      | ((qh[l] >> 4) & 3) << 4) − 32)
//   value 128n + l + 96 = d·sc[8n + l/16 + 6]·((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) − 32)
// A unit is (n, h): l = 16h .. 16h+15 of half n, i.e. 4 groups of 16 values sharing one scale each.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let units = params.cols / 64u;
  let row_bytes = (params.cols / 256u) * 210u;
  let s = vec4<u32>(row_start(row0, 0u, row_bytes), row_start(row0, 1u, row_bytes), row_start(row0, 2u, row_bytes), row_start(row0, 3u, row_bytes));
  var acc = vec4<f32>(0.0);
  for (var u = lane; u < units; u += TPR) {
    let n = (u / 2u) % 2u;
    let h = u % 2u;
    // The unit's 4 groups of 16 values are at x[256b + 128n + 16h + 32g], g = 0..3, into xq[4g ..].
    let first = 64u * (u / 4u) + 32u * n + 4u * h;
    let xs = vec4<f32>(load_quad(first, 0u), load_quad(first + 8u, 4u), load_quad(first + 16u, 8u), load_quad(first + 24u, 12u));
    let at = 210u * (u / 4u);
    acc += vec4<f32>(unit_dot(s.x + at, n, h, xs), unit_dot(s.y + at, n, h, xs), unit_dot(s.z + at, n, h, xs), unit_dot(s.w + at, n, h, xs));
  }
  return acc;
}

// Σ q·x / 255 for the 4 groups of the 4 values in word i: ql word a (from ql[l]), b (from ql[l + 32]), qh word c.
// The 6-bit q of each byte lane is assembled in place (low nibble | 2 high bits << 4), then converted.
fn word_dot(a: u32, b: u32, c: u32, i: u32) -> vec4<f32> {
  // Left shifts as multiplies (cheaper on CPU adapters).
  let q0 = (a & 0x0f0f0f0fu) | ((c & 0x03030303u) * 16u);
  let q1 = (b & 0x0f0f0f0fu) | ((c & 0x0c0c0c0cu) * 4u);
  let q2 = ((a >> 4u) & 0x0f0f0f0fu) | (c & 0x30303030u);
  let q3 = ((b >> 4u) & 0x0f0f0f0fu) | ((c >> 2u) & 0x30303030u);
  return vec4<f32>(dot(bytes_unorm(q0), xq[i]), dot(bytes_unorm(q1), xq[i + 4u]), dot(bytes_unorm(q2), xq[i + 8u]), dot(bytes_unorm(q3), xq[i + 12u]));
}

// Σ w·x over unit (n, h) of the block at the 2-aligned byte offset `blk`; xs holds the 4 groups' Σx.
fn unit_dot(blk: u32, n: u32, h: u32, xs: vec4<f32>) -> f32 {
  let a = run4(blk + 64u * n + 16u * h);
  let b = run4(blk + 64u * n + 32u + 16u * h);
  let c = run4(blk + 128u + 32u * n + 16u * h);
  let q = word_dot(a.x, b.x, c.x, 0u) + word_dot(a.y, b.y, c.y, 1u) + word_dot(a.z, b.z, c.z, 2u) + word_dot(a.w, b.w, c.w, 3u);
  // scales[8n + h + 2g], g = 0..3: bytes h, h+2 of the first scale word and h, h+2 of the second.
  let sw = blk + 192u + 8u * n;
  let s0 = run_word(sw);
  let s1 = run_word(sw + 4u);
  let sh = 8u * h;
  let scale = vec4<f32>(vec4<i32>(bitcast<i32>(s0 << (24u - sh)), bitcast<i32>(s0 << (8u - sh)), bitcast<i32>(s1 << (24u - sh)), bitcast<i32>(s1 << (8u - sh))) >> vec4<u32>(24u));
  return half_at(blk + 208u) * dot(scale, 255.0 * q - 32.0 * xs);
}

// The word of the byte run at the 2-aligned byte offset `at`.
fn run_word(at: u32) -> u32 {
  let w = at >> 2u;
  return select(weights[w], mid_word(weights[w], weights[w + 1u]), (at & 2u) != 0u);
}
