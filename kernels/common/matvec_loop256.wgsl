// Shared include: the loop along a row for the 256-value block types (Q2_K … Q6_K, IQ4_XS), after
// common/matvec_rows.wgsl and common/matvec_blocks.wgsl. The type's kernel file supplies
//
//   const BLOCK_BYTES: u32    bytes per block (ggml-common.h)
//   const UNIT_VALUES: u32    values one call of unit_dot covers (32 or 64)
//   fn unit_x(u: u32) -> vec4<f32>
//       loads the x values of unit u of the row into xq (with load_quad) and returns their sums per group of
//       16 (unused groups 0); `contiguous_x(u)` is the common case: unit u covers x[UNIT_VALUES·u ..].
//   fn unit_dot(block: u32, j: u32, xs: vec4<f32>) -> f32
//       Σ w·x over unit j of the block that starts at byte `block` (2-aligned: blocks of 110 and 210 bytes
//       start 2 bytes into a word in every other block), against xq and its group sums xs.

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let row_bytes = (params.cols / 256u) * BLOCK_BYTES;
  let s = vec4<u32>(row_start(row0, 0u, row_bytes), row_start(row0, 1u, row_bytes), row_start(row0, 2u, row_bytes), row_start(row0, 3u, row_bytes));
  let per_block = 256u / UNIT_VALUES;
  let units = params.cols / UNIT_VALUES;
  var acc = vec4<f32>(0.0);
  for (var u = lane; u < units; u += TPR) {
    let xs = unit_x(u);
    let at = (u / per_block) * BLOCK_BYTES;
    let j = u % per_block;
    acc += vec4<f32>(unit_dot(s.x + at, j, xs), unit_dot(s.y + at, j, xs), unit_dot(s.z + at, j, xs), unit_dot(s.w + at, j, xs));
  }
  return acc;
}

// x[UNIT_VALUES·u ..] into xq (16 values per quad), with the sum of each group of 16.
fn contiguous_x(u: u32) -> vec4<f32> {
  let first = u * (UNIT_VALUES / 4u);
  if (UNIT_VALUES == 32u) {
    return vec4<f32>(load_quad(first, 0u), load_quad(first + 4u, 4u), 0.0, 0.0);
  }
  return vec4<f32>(load_quad(first, 0u), load_quad(first + 4u, 4u), load_quad(first + 8u, 8u), load_quad(first + 12u, 12u));
}
