// Shared include: the loop along a row for the 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL),
// after common/matvec_rows.wgsl, common/packed_weights.wgsl and common/matvec_blocks.wgsl. The type's kernel file supplies
//
//   const BLOCK_BYTES: u32   bytes per block (ggml-common.h)
//   fn block_dot(block: u32, mis: bool, i: u32, xs: f32) -> f32
//       Σ w·x over the block that starts at byte `block` (`mis`: 2 bytes into a word), against the block's
//       32 x values in xq[i .. i+7] and their sum xs.
//
// A unit is a pair of blocks (64 values). Blocks of 18, 22 and 34 bytes start 2 bytes into a word in
// every other block, so a pair starts at the same byte of a word (0 or 2) everywhere in a row: its first
// block's alignment is the row's, its second the opposite. Rows of an odd block count (ODD_BLOCKS) are 2 mod
// 4 bytes long and alternate: local rows 1 and 3 of a group start mid-word (row0 is a multiple of 4 and a
// shard starts at byte 0). Every call of block_dot therefore gets a constant `mis`, and no decoder pays for
// realigning at run time. An odd block count leaves one block per row, for the lane whose turn it would be.

#if ODD_BLOCKS
const ROWS_ALTERNATE = (BLOCK_BYTES & 2u) != 0u;
#else
const ROWS_ALTERNATE = false;
#endif
const PAIR_FLIPS = (BLOCK_BYTES & 2u) != 0u;

fn rows_dot(row0: u32, lane: u32) -> vec4<f32> {
  let blocks = params.cols / 32u;
  let row_bytes = blocks * BLOCK_BYTES;
  let s = vec4<u32>(row_start32(row0, 0u, row_bytes), row_start32(row0, 1u, row_bytes), row_start32(row0, 2u, row_bytes), row_start32(row0, 3u, row_bytes));
  let pairs = blocks / 2u;
  var acc = vec4<f32>(0.0);
  for (var p = lane; p < pairs; p += TPR) {
    let first = 16u * p;
    let xs = vec4<f32>(load_quad(first, 0u), load_quad(first + 4u, 4u), load_quad(first + 8u, 8u), load_quad(first + 12u, 12u));
    let at = 2u * BLOCK_BYTES * p;
    acc += vec4<f32>(pair_dot(s.x + at, false, xs), pair_dot(s.y + at, ROWS_ALTERNATE, xs), pair_dot(s.z + at, false, xs), pair_dot(s.w + at, ROWS_ALTERNATE, xs));
  }
  if ((blocks & 1u) != 0u && lane == pairs % TPR) {
    let xs = load_quad(16u * pairs, 0u) + load_quad(16u * pairs + 4u, 4u);
    let at = 2u * BLOCK_BYTES * pairs;
    acc += vec4<f32>(block_dot(s.x + at, false, 0u, xs), block_dot(s.y + at, ROWS_ALTERNATE, 0u, xs), block_dot(s.z + at, false, 0u, xs), block_dot(s.w + at, ROWS_ALTERNATE, 0u, xs));
  }
  return acc;
}

// The two blocks of a pair at `at`, against xq[0..7] and xq[8..15].
fn pair_dot(at: u32, mis: bool, xs: vec4<f32>) -> f32 {
  return block_dot(at, mis, 0u, xs.x + xs.y) + block_dot(at + BLOCK_BYTES, mis != PAIR_FLIPS, 8u, xs.z + xs.w);
}

// row_start (common/matvec_rows.wgsl), with the rows past the shard's end aliasing the last row of the same
// parity (or row 0 if there is none) when rows alternate, so that each row's `mis` holds for its alias.
fn row_start32(row0: u32, r: u32, row_bytes: u32) -> u32 {
  let last = params.rows - 1u;
  if (!ROWS_ALTERNATE) {
    return min(row0 + r, last) * row_bytes;
  }
  let same_parity = select(select(0u, last - 1u, last >= 1u), last, ((last ^ r) & 1u) == 0u);
  return min(row0 + r, same_parity) * row_bytes;
}
