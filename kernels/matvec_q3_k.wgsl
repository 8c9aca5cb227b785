// y = W·x for one token, W in Q3_K (block_q3_K, 110 bytes, so 2-aligned): hmask[32], qs[64], scales[12], f16 d.
// As dequantize_row_q3_K walks it: in half n, for shift s = 0..3 and group g = 0, 1, the 16 values
// 128n + 32s + 16g + l take q = bits 2s..2s+1 of qs[32n + 16g + l], minus 4 where bit 4n + s of hmask[16g + l]
// is clear, and the 6-bit scale i = 8n + 2s + g: low 4 bits from nibble (i / 8) of scales[i % 8], high 2 bits
// from bits 2·(i / 4) of scales[8 + i % 4]; value = d·(scale − 32)·q.
// A unit is 64 values, (n, m) = (j / 2, j % 2): shifts 2m, 2m + 1, scales 8n + 4m .. 8n + 4m + 3.
const BLOCK_BYTES = 110u;
const UNIT_VALUES = 64u;

fn unit_x(u: u32) -> vec4<f32> {
  return contiguous_x(u);
}

fn unit_dot(block: u32, j: u32, xs: vec4<f32>) -> f32 {
  let n = j / 2u;
  let m = j % 2u;
  let low = (word_at(block + 96u + 4u * m) >> (4u * n)) & 0x0f0f0f0fu;
  let high = (word_at(block + 104u) >> (4u * n + 2u * m)) & 0x03030303u;
  let scale = bytes_unorm(low | (high * 16u)) * 255.0 - 32.0;
  let qs0 = run4(block + 32u + 32u * n);
  let qs1 = run4(block + 48u + 32u * n);
  let hm0 = run4(block);
  let hm1 = run4(block + 16u);
  // Σ (q2 + 4·h − 4)·x for the four groups (shift 2m: groups 0, 1; shift 2m + 1: groups 2, 3).
  let s0 = 2u * (2u * m);
  let h0 = 4u * n + 2u * m;
  let g = vec4<f32>(group(qs0, hm0, s0, h0, 0u), group(qs1, hm1, s0, h0, 4u), group(qs0, hm0, s0 + 2u, h0 + 1u, 8u), group(qs1, hm1, s0 + 2u, h0 + 1u, 12u));
  return half_at(block + 108u) * dot(scale, 255.0 * g - 4.0 * xs);
}

// Σ (q2 + 4·h)·x / 255 over 16 values: q2 = bits `qshift`.. of the qs bytes, h = bit `hbit` of the hmask bytes.
fn group(qs: vec4<u32>, hm: vec4<u32>, qshift: u32, hbit: u32, i: u32) -> f32 {
  let v = ((qs >> vec4<u32>(qshift)) & vec4<u32>(0x03030303u)) | (((hm >> vec4<u32>(hbit)) & vec4<u32>(0x01010101u)) * 4u);
  return dot(bytes_unorm(v.x), xq[i]) + dot(bytes_unorm(v.y), xq[i + 1u]) + dot(bytes_unorm(v.z), xq[i + 2u]) + dot(bytes_unorm(v.w), xq[i + 3u]);
}
