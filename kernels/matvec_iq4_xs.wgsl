// y = W·x for one token, W in IQ4_XS (block_iq4_xs, 136 bytes, word-aligned): f16 d, u16 scales_h, u8
// scales_l[4], qs[128]. Sub-block ib (32 values) has the 6-bit scale ls = ((scales_l[ib/2] >> 4·(ib%2)) & 15)
// | ((scales_h >> 2·ib) & 3) << 4, i.e. nibble ib of the scales_l word; its values are as an IQ4_NL block with
// d·(ls − 32) and qs[16·ib ..]. A unit is one sub-block.
const BLOCK_BYTES = 136u;
const UNIT_VALUES = 32u;

fn unit_x(u: u32) -> vec4<f32> {
  return contiguous_x(u);
}

fn unit_dot(block: u32, j: u32, xs: vec4<f32>) -> f32 {
  let w = block >> 2u;
  let head = weights[w]; // d | scales_h << 16
  let ls = ((weights[w + 1u] >> (4u * j)) & 15u) | (((head >> (16u + 2u * j)) & 3u) << 4u);
  let q = w + 2u + 4u * j;
  let d = unpack2x16float(head).x * (f32(ls) - 32.0);
  return d * iq4_block(words4(q), 0u);
}
