// Shared include of the matvec_<type>.wgsl kernels: their bindings, the row layout of a workgroup, and the
// reduction + epilogue (bias, residual) that turns per-invocation partial dot products into y. The loop
// along a row is common/matvec_blocks.wgsl (quantized types), common/matvec_halves.wgsl (F16, BF16) or the
// kernel's own (F32).
//
// Layout: a workgroup is GROUPS groups of TPR invocations. Each group owns ROWS consecutive rows; its TPR
// invocations walk the row in units (a block or a few, 16..64 values) with stride TPR, and each decodes the
// same unit position in all ROWS rows, so every x value an invocation loads is reused ROWS times from
// registers. The dispatcher picks TPR from the row length (short rows get more groups, not idle lanes).
//
// SUBGROUPS variant (TPR = 1 only): all lanes of a subgroup then walk the same units of different rows and
// need the same x, so lanes 0..3 each load a quarter of every 16 values and subgroupBroadcast shares them.
// This is for CPU-backed adapters (SwiftShader), where a lane's load is a bounds-checked scalar access and
// x loads cost as much as the weights; on real GPUs TPR > 1 keeps the weight reads coalesced instead.


// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/matvec.ts.
@group(0) @binding(1) var<storage, read> weights: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<act4>;
// read_write also for ACCUMULATE (y = W·x + y), where the residual is y itself and is read before the write.
@group(0) @binding(3) var<storage, read_write> y: array<act>;
#if BIAS
@group(0) @binding(4) var<storage, read> bias: array<act>;
#if RESIDUAL
@group(0) @binding(5) var<storage, read> residual: array<act>;
#endif
#else
#if RESIDUAL
@group(0) @binding(4) var<storage, read> residual: array<act>;
#endif
#endif

// Rows per group: the x reuse factor. Fixed at 4 so a group's four running sums are one vec4<f32> (kept in
// registers everywhere; a runtime-sized or dynamically indexed private array would spill to memory).
const ROWS = 4u;
override TPR: u32 = 64u;   // invocations per group (a power of two)
override GROUPS: u32 = 1u; // groups per workgroup

var<workgroup> partial: array<vec4<f32>, TPR * GROUPS>;

// The entry point of every matvec kernel. The kernel file supplies
//   fn rows_dot(row0: u32, lane: u32) -> vec4<f32>
// returning, for local rows row0 .. row0+3 of the shard, the sums over the units lane, lane + TPR, ... of
// W[row, k]·x[k]; this adds up the group's lanes and stores y.
@compute @workgroup_size(TPR * GROUPS)
fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
#if SUBGROUPS
  @builtin(subgroup_invocation_id) sgi: u32,
#endif
) {
#if SUBGROUPS
  sg_lane = sgi;
#endif
  let row0 = group_first_row(li, wid, nwg);
  reduce_and_store(rows_dot(row0, first_unit(li)), li, row0);
}

// The first local row of this invocation's group, from the linear workgroup index (grid() may fold the
// workgroup count into y).
fn group_first_row(li: u32, wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return ((wid.x + wid.y * nwg.x) * GROUPS + li / TPR) * ROWS;
}

// Offset of local row `row0 + r` in the shard, in the unit `row_size` is given in (bytes, or words). Rows
// past the shard's end (only in its last group) alias its last row: they decode data whose sum is never
// stored, so the hot loop needs no per-row branch and every load stays in the binding.
fn row_start(row0: u32, r: u32, row_size: u32) -> u32 {
  return min(row0 + r, params.rows - 1u) * row_size;
}

// Reduces the TPR partial sums of the group's ROWS rows (a tree in workgroup memory), then writes y at the
// global row with the optional bias and residual added. Every invocation must call it (barriers).
fn reduce_and_store(acc: vec4<f32>, li: u32, row0: u32) {
  partial[li] = acc;
  let lane = li % TPR;
  for (var stride = TPR / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (lane < stride) {
      partial[li] += partial[li + stride];
    }
  }
  workgroupBarrier();
  // Lanes 0..ROWS-1 of each group store one row each (all rows via a stride when TPR < ROWS).
  let sums = partial[li - lane];
  for (var r = lane; r < ROWS; r += TPR) {
    let row = row0 + r;
    if (row < params.rows) {
      let g = params.first_row + row;
      var v = sums[r];
#if BIAS
      v += f32(bias[g]);
#endif
#if RESIDUAL
      v += f32(residual[g]);
#endif
#if ACCUMULATE
      v += f32(y[g]);
#endif
      y[g] = act(v);
    }
  }
}

// The four f32 values of x[4i..4i+3].
fn x4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i]);
}

#if SUBGROUPS
var<private> sg_lane: u32;
#endif

// The lane's first unit and, with stride TPR, the units it takes. A constant 0 in the SUBGROUPS variant,
// which makes the unit loop subgroup-uniform (the shuffles in x_quad need that).
fn first_unit(li: u32) -> u32 {
#if SUBGROUPS
  return 0u;
#else
  return li % TPR;
#endif
}

// The x values of the current unit, up to 64, as 16 vec4s. A module-scope private array written and read
// at constant indices: the compiler keeps it in registers, where passing arrays as function arguments
// copies them (SwiftShader does, at a large cost).
var<private> xq: array<vec4<f32>, 16>;

// Loads x4(first + j), j = 0..3 (16 consecutive x values), into xq[at + j] and returns their sum.
fn load_quad(first: u32, at: u32) -> f32 {
#if SUBGROUPS
  // Lanes 0..3 (of any subgroup size ≥ 4) each load one vec4; everyone takes all four from them.
  let mine = x4(first + (sg_lane & 3u));
  xq[at] = subgroupBroadcast(mine, 0u);
  xq[at + 1u] = subgroupBroadcast(mine, 1u);
  xq[at + 2u] = subgroupBroadcast(mine, 2u);
  xq[at + 3u] = subgroupBroadcast(mine, 3u);
#else
  xq[at] = x4(first);
  xq[at + 1u] = x4(first + 1u);
  xq[at + 2u] = x4(first + 2u);
  xq[at + 3u] = x4(first + 3u);
#endif
  return dot(xq[at] + xq[at + 1u] + xq[at + 2u] + xq[at + 3u], vec4<f32>(1.0));
}

// The 4 bytes that start 2 bytes into `lo` (the funnel shift of two adjacent words). GGUF runs of 18-, 22-,
// 34-, 110- and 210-byte blocks are only 2-byte aligned; two aligned word loads plus this beat four byte loads.
fn mid_word(lo: u32, hi: u32) -> u32 {
  return (lo >> 16u) | (hi * 65536u); // a multiply: cheaper than a shift on CPU adapters
}

// The last word of the weight binding: loads that may fall one word past a run clamp to it.
fn last_word() -> u32 {
  return arrayLength(&weights) - 1u;
}

// Words 0..3 of the byte run at the 2-aligned byte offset `at`, from 5 loads (the 5th is clamped: past a
// shard's last row it may lie outside the binding). Branch-free: a select is cheaper than a divergent branch.
fn run4(at: u32) -> vec4<u32> {
  let w = at >> 2u;
  let v = vec4<u32>(weights[w], weights[w + 1u], weights[w + 2u], weights[w + 3u]);
  let next = weights[min(w + 4u, last_word())];
  return select(v, (v >> vec4<u32>(16u)) | (vec4<u32>(v.yzw, next) * 65536u), (at & 2u) != 0u);
}

// The f16 at the 2-aligned byte offset `at`, as f32.
fn half_at(at: u32) -> f32 {
  let word = weights[at >> 2u];
  return unpack2x16float(select(word, word >> 16u, (at & 2u) != 0u)).x;
}

// Four packed bytes as floats, divided by 255. On CPU adapters (SwiftShader) shifts cost about as much as a
// load, and this builtin costs about one shift for all four bytes; kernels fold the 255 back in once per
// block and row (the division's rounding, 2^-24 relative, is far below the f32 sum's).
fn bytes_unorm(v: u32) -> vec4<f32> {
  return unpack4x8unorm(v);
}
