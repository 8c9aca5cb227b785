// y = W·x for one token, W in Q6_K (block_q6_K, 210 bytes, so 2-aligned): ql[128], qh[64], i8 scales[16], f16 d.
// In half n (128 values) and for l = 0..31 (llama.cpp's dequantize_row_q6_K), with ql = ql[64n..], qh = qh[32n..]:
//   value 128n + l      = d·sc[8n + l/16 + 0]·((ql[l] & 15)      | ((qh[l] >> 0) & 3) << 4) − 32)
//   value 128n + l + 32 = d·sc[8n + l/16 + 2]·((ql[l + 32] & 15) | ((qh[l] >> 2) & 3) << 4) − 32)
//   value 128n + l + 64 = d·sc[8n + l/16 + 4]·((ql[l] >> 4)      | ((qh[l] >> 4) & 3) << 4) − 32)
//   value 128n + l + 96 = d·sc[8n + l/16 + 6]·((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) − 32)
// A unit is (n, h) = (j / 2, j % 2): l = 16h .. 16h+15 of half n, i.e. 4 groups of 16 values sharing one scale
// each, which read 16 bytes each of ql[l], ql[l + 32] and qh[l] (each byte read once per block).
const BLOCK_BYTES = 210u;
const UNIT_VALUES = 64u;

// The unit's 4 groups of 16 values are at x[256b + 128n + 16h + 32g], g = 0..3, into xq[4g ..].
fn unit_x(u: u32) -> vec4<f32> {
  let j = u % 4u;
  let first = 64u * (u / 4u) + 32u * (j / 2u) + 4u * (j % 2u);
  return vec4<f32>(load_quad(first, 0u), load_quad(first + 8u, 4u), load_quad(first + 16u, 8u), load_quad(first + 24u, 12u));
}

fn unit_dot(block: u32, j: u32, xs: vec4<f32>) -> f32 {
  let n = j / 2u;
  let h = j % 2u;
  let a = run4(block + 64u * n + 16u * h);
  let b = run4(block + 64u * n + 32u + 16u * h);
  let c = run4(block + 128u + 32u * n + 16u * h);
  let q = word_dot(a.x, b.x, c.x, 0u) + word_dot(a.y, b.y, c.y, 1u) + word_dot(a.z, b.z, c.z, 2u) + word_dot(a.w, b.w, c.w, 3u);
  // scales[8n + h + 2g], g = 0..3: bytes h, h+2 of the first scale word and h, h+2 of the second.
  let sw = block + 192u + 8u * n;
  let s0 = word_at(sw);
  let s1 = word_at(sw + 4u);
  let sh = 8u * h;
  let scale = vec4<f32>(vec4<i32>(bitcast<i32>(s0 << (24u - sh)), bitcast<i32>(s0 << (8u - sh)), bitcast<i32>(s1 << (24u - sh)), bitcast<i32>(s1 << (8u - sh))) >> vec4<u32>(24u));
  return half_at(block + 208u) * dot(scale, 255.0 * q - 32.0 * xs);
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
