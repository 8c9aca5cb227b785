// y = W·x for one token, W in Q2_K (block_q2_K, 84 bytes, word-aligned): u8 scales[16] (low nibble scale,
// high nibble min), qs[64], f16 d, f16 dmin. As dequantize_row_q2_K walks it: in half n (128 values), for
// shift s = 0..3 and group g = 0, 1, the 16 values 128n + 32s + 16g + l take bits 2s..2s+1 of qs[32n + 16g + l]
// and scale byte 8n + 2s + g; value = d·scale·q − dmin·min.
// A unit is 64 values, (n, m) = (j / 2, j % 2): shifts 2m and 2m + 1, so its 4 groups of 16 use one word of
// scales (bytes 8n + 4m ..) and the 8 qs words of half n.
const BLOCK_BYTES = 84u;
const UNIT_VALUES = 64u;

fn unit_x(u: u32) -> vec4<f32> {
  return contiguous_x(u);
}

fn unit_dot(block: u32, j: u32, xs: vec4<f32>) -> f32 {
  let w = block >> 2u;
  let n = j / 2u;
  let m = j % 2u;
  let sc = weights[w + j]; // scale bytes 4j .. 4j+3 = 8n + 4m ..
  let dm = unpack2x16float(weights[w + 20u]);
  let qw = w + 4u + 8u * n;
  let g0 = vec4<u32>(weights[qw], weights[qw + 1u], weights[qw + 2u], weights[qw + 3u]);
  let g1 = vec4<u32>(weights[qw + 4u], weights[qw + 5u], weights[qw + 6u], weights[qw + 7u]);
  // The two shifts' 2-bit fields masked in place (no shift per word): they come out 4^(2m) and 4^(2m+1)
  // times too large, undone once below.
  let mask0 = 0x03030303u << (4u * m);
  let mask1 = mask0 << 2u;
  let q = vec4<f32>(crumbs(g0 & vec4<u32>(mask0), 0u), crumbs(g1 & vec4<u32>(mask0), 4u), crumbs(g0 & vec4<u32>(mask1), 8u), crumbs(g1 & vec4<u32>(mask1), 12u));
  let unshift = 1.0 / f32(1u << (4u * m));
  let scale = bytes_unorm(sc & 0x0f0f0f0fu) * 255.0;
  let mins = bytes_unorm((sc >> 4u) & 0x0f0f0f0fu) * 255.0;
  return dm.x * 255.0 * unshift * dot(scale, q * vec4<f32>(1.0, 1.0, 0.25, 0.25)) - dm.y * dot(mins, xs);
}

// Σ over 16 values of (byte of q)·x / 255, for the 4 words q against xq[i .. i+3].
fn crumbs(q: vec4<u32>, i: u32) -> f32 {
  return dot(bytes_unorm(q.x), xq[i]) + dot(bytes_unorm(q.y), xq[i + 1u]) + dot(bytes_unorm(q.z), xq[i + 2u]) + dot(bytes_unorm(q.w), xq[i + 3u]);
}
