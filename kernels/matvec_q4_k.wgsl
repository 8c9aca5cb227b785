// y[r] = Σ_k W[r,k]·x[k] for a Q4_K weight shard, one token (decode). Entry point, bindings, row layout and
// the reduction are in common/matvec_rows.wgsl; this file decodes the blocks.
// Q4_K block (256 values, 144 bytes, so always word-aligned): f16 d, f16 dmin, scales[12] (eight 6-bit
// scales and mins, packed as llama.cpp's get_scale_min_k4 reads them), qs[128]. Chunk c (64 values) is
// qs[32c .. 32c+31]: low nibbles are values 64c+l (sub-block 2c), high nibbles 64c+32+l (sub-block 2c+1);
// value = d·scale·q − dmin·min. A unit is one chunk.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let chunks = params.cols / 64u;
  let row_words = (params.cols / 256u) * 36u;
  let s = vec4<u32>(row_start(row0, 0u, row_words), row_start(row0, 1u, row_words), row_start(row0, 2u, row_words), row_start(row0, 3u, row_words));
  var acc = vec4<f32>(0.0);
  for (var u = lane; u < chunks; u += TPR) {
    // xq[0..7]: the chunk's low-nibble values, xq[8..15]: its high-nibble values (sub-blocks 2c, 2c+1).
    let xs = vec2<f32>(load_quad(16u * u, 0u) + load_quad(16u * u + 4u, 4u), load_quad(16u * u + 8u, 8u) + load_quad(16u * u + 12u, 12u));
    let at = (u / 4u) * 36u;
    let c = u % 4u;
    acc += vec4<f32>(chunk_dot(s.x + at, c, xs), chunk_dot(s.y + at, c, xs), chunk_dot(s.z + at, c, xs), chunk_dot(s.w + at, c, xs));
  }
  return acc;
}

// (Σ lo·x, 16·Σ hi·x) / 255 over the low and the high nibbles of a qs word, against xq[i] and xq[i + 8]:
// masking keeps each nibble in place (the high ones come out 16 times too large), so no shift is needed;
// shifts are slow on CPU adapters (SwiftShader).
fn nibbles(q: u32, i: u32) -> vec2<f32> {
  return vec2<f32>(dot(bytes_unorm(q & 0x0f0f0f0fu), xq[i]), dot(bytes_unorm(q & 0xf0f0f0f0u), xq[i + 8u]));
}

// Σ w·x over chunk c of the block at word `w`.
fn chunk_dot(w: u32, c: u32, xs: vec2<f32>) -> f32 {
  let head = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let dm = unpack2x16float(head.x); // (d, dmin)
  // get_scale_min_k4 for all four j of this half of the block at once, as bytes (no shifts): with
  // scales[0..3] = head.y, [4..7] = head.z, [8..11] = head.w,
  //   j < 4:  scale = scales[j] & 63,                        min = scales[j+4] & 63
  //   j >= 4: scale = (scales[j+4] & 15) | (scales[j-4] >> 6) << 4,  min = (scales[j+4] >> 4) | (scales[j] >> 6) << 4
  // For j >= 4, 4·scale = 4·(low nibble) + (top bits in place) fits a byte; the min is the sum of its
  // nibble part (16 times too large in place) and its top bits (4 times too large in place).
  let high = c >= 2u;
  let sc4 = bytes_unorm(select(head.y & 0x3f3f3f3fu, (head.w & 0x0f0f0f0fu) * 4u + (head.y & 0xc0c0c0c0u), high)) * select(1.0, 0.25, high);
  let mn4 = bytes_unorm(select(head.z & 0x3f3f3f3fu, head.w & 0xf0f0f0f0u, high)) * select(1.0, 0.0625, high)
          + bytes_unorm(select(0u, head.z & 0xc0c0c0c0u, high)) * 0.25;
  // Sub-blocks 2c and 2c+1 are bytes 2(c & 1) and 2(c & 1) + 1 of these.
  let odd = (c & 1u) != 0u;
  let scale = select(sc4.xy, sc4.zw, odd);
  let mins = select(mn4.xy, mn4.zw, odd);
  let qw = w + 4u + 8u * c;
  let q0 = vec4<u32>(weights[qw], weights[qw + 1u], weights[qw + 2u], weights[qw + 3u]);
  let q1 = vec4<u32>(weights[qw + 4u], weights[qw + 5u], weights[qw + 6u], weights[qw + 7u]);
  let q = nibbles(q0.x, 0u) + nibbles(q0.y, 1u) + nibbles(q0.z, 2u) + nibbles(q0.w, 3u)
        + nibbles(q1.x, 4u) + nibbles(q1.y, 5u) + nibbles(q1.z, 6u) + nibbles(q1.w, 7u);
  // Everything above is in units of 1/255: scales, mins and quants.
  return dm.x * 65025.0 * dot(scale, q * vec2<f32>(1.0, 0.0625)) - dm.y * 255.0 * dot(mins, xs);
}
