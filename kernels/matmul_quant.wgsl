// Y[t, n] = sum_k X[t, k] * W[n, k]  (+ bias[n]) (+ residual[t, n]): prefill matrix × matrix for a GGUF
// weight W of any supported type, X and Y row-major activations [tokens, cols] and [tokens, out_rows].
//
// Each workgroup computes one TILE_TOKENS × TILE_ROWS tile of Y. Per K-step it stages a TILE_K slice of X
// and of W in workgroup memory, dequantizing W on the fly from its packed bytes, so each weight value is
// decoded once per token tile instead of once per token. Each invocation then accumulates an 8 tokens ×
// 8 rows register block in f32, reading two vec4 of X and two of W per k: 64 FMAs per 4 shared loads.
// (On SwiftShader every workgroup-memory read with a per-invocation address is an emulated gather, so
// this ratio, not the FMAs, sets the speed: a 4 × 4 block measured about half as fast.)
//
// The weight type enters only through `dequant4(row_byte_offset, k)`, which the dispatcher binds to the
// matching `dequant4_<type>` of common/packed_weights.wgsl with a one-line generated include, so the
// tiling exists once for all types.
//
// W may be split across several bindings (a RowBuffer): the dispatcher runs this once per shard, with the
// shard's first row, which is both the output column offset in Y and the offset into bias.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/matmul.ts.
@group(0) @binding(1) var<storage, read> x: array<act4>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
// With ACCUMULATE (residual is Y itself: Y += X·Wᵀ) each element of Y is read and then written by the
// same invocation, so the in-place update has no race.
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

// Tile sizes (set by the dispatcher). The register block is fixed at 8 × 8, so TILE_TOKENS and TILE_ROWS
// are multiples of 8 and the workgroup has WG = (TILE_TOKENS / 8) × (TILE_ROWS / 8) invocations. TILE_K
// is a multiple of 4 because dequant4 decodes four consecutive values at a k that is a multiple of 4.
override TILE_TOKENS: u32 = 64;
override TILE_ROWS: u32 = 64;
override TILE_K: u32 = 32;
override WG: u32 = 256;

// Both tiles are stored k-major and packed by 4 along tokens / rows, so the inner loop reads four of an
// invocation's tokens (rows) at one k as a single vec4.
var<workgroup> x_tile: array<vec4<f32>, TILE_K * TILE_TOKENS / 4u>;
var<workgroup> w_tile: array<vec4<f32>, TILE_K * TILE_ROWS / 4u>;

// One act4 of X (token t, values k..k+3), or 0 past the last token / column: zeros add nothing.
fn x4(t: u32, k: u32) -> vec4<f32> {
  if (t < params.tokens && k < params.cols) {
    return vec4<f32>(x[(t * params.cols + k) / 4u]);
  }
  return vec4<f32>(0.0);
}

// W[n, k..k+3] decoded (n shard-local), or 0 past the shard's last row / column.
fn w4(n: u32, k: u32) -> vec4<f32> {
  if (n < params.shard_rows && k < params.cols) {
    return dequant4(n * params.row_bytes, k);
  }
  return vec4<f32>(0.0);
}

// A 4 × 4 block read as one vec4 per token (row) becomes one vec4 per k for the k-major tile.
fn transpose4(v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32>) -> mat4x4<f32> {
  return transpose(mat4x4<f32>(v0, v1, v2, v3));
}

// Stages X[t0..t0+3, k..k+3] at x_tile[dst + i * stride] for the 4 k values i.
fn load_x_block(t0: u32, k: u32, dst: u32) {
  let m = transpose4(x4(t0, k), x4(t0 + 1u, k), x4(t0 + 2u, k), x4(t0 + 3u, k));
  let stride = TILE_TOKENS / 4u;
  x_tile[dst] = m[0];
  x_tile[dst + stride] = m[1];
  x_tile[dst + 2u * stride] = m[2];
  x_tile[dst + 3u * stride] = m[3];
}

// Stages W[n0..n0+3, k..k+3] (shard-local rows, decoded) at w_tile[dst + i * stride].
fn load_w_block(n0: u32, k: u32, dst: u32) {
  let m = transpose4(w4(n0, k), w4(n0 + 1u, k), w4(n0 + 2u, k), w4(n0 + 3u, k));
  let stride = TILE_ROWS / 4u;
  w_tile[dst] = m[0];
  w_tile[dst + stride] = m[1];
  w_tile[dst + 2u * stride] = m[2];
  w_tile[dst + 3u * stride] = m[3];
}

// Writes the sums for token t, shard-local rows n..n+3 (those that exist), adding bias and residual.
fn store_row(t: u32, n: u32, sums: vec4<f32>) {
  if (t >= params.tokens) {
    return;
  }
  for (var j = 0u; j < 4u; j++) {
    if (n + j >= params.shard_rows) {
      return;
    }
    let col = params.first_row + n + j;
    let at = t * params.out_rows + col;
    var v = sums[j];
#if BIAS
    v += f32(bias[col]);
#endif
#if RESIDUAL
    v += f32(residual[at]);
#endif
#if ACCUMULATE
    v += f32(y[at]);
#endif
    y[at] = act(v);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= params.tiles) {
    return; // the whole workgroup leaves together, so the barriers below stay uniform
  }
  let row_base = (tile % params.row_tiles) * TILE_ROWS;
  let token_base = (tile / params.row_tiles) * TILE_TOKENS;

  let rows4 = TILE_ROWS / 4u;
  let tokens4 = TILE_TOKENS / 4u;
  let k4 = TILE_K / 4u;
  let x_blocks = tokens4 * k4;
  let all_blocks = x_blocks + rows4 * k4;

  // This invocation's 8 × 8 register block: token groups my_t and my_t + tokens8 (4 tokens each) ×
  // row groups my_n and my_n + rows8 (4 rows each). Interleaved rather than adjacent groups, so that
  // neighbouring invocations read neighbouring vec4s of the tiles.
  let rows8 = TILE_ROWS / 8u;
  let tokens8 = TILE_TOKENS / 8u;
  let my_n = lid % rows8;
  let my_t = lid / rows8;
  // Sixteen named vec4 accumulators, not an array: an array indexed by a variable is kept in memory by
  // some compilers (SwiftShader), not in registers. a<g><c>_w<h> = token (group g, lane c) × row group h.
  var a0x_w0 = vec4<f32>(0.0);
  var a0x_w1 = vec4<f32>(0.0);
  var a0y_w0 = vec4<f32>(0.0);
  var a0y_w1 = vec4<f32>(0.0);
  var a0z_w0 = vec4<f32>(0.0);
  var a0z_w1 = vec4<f32>(0.0);
  var a0w_w0 = vec4<f32>(0.0);
  var a0w_w1 = vec4<f32>(0.0);
  var a1x_w0 = vec4<f32>(0.0);
  var a1x_w1 = vec4<f32>(0.0);
  var a1y_w0 = vec4<f32>(0.0);
  var a1y_w1 = vec4<f32>(0.0);
  var a1z_w0 = vec4<f32>(0.0);
  var a1z_w1 = vec4<f32>(0.0);
  var a1w_w0 = vec4<f32>(0.0);
  var a1w_w1 = vec4<f32>(0.0);

  for (var k0 = 0u; k0 < params.cols; k0 += TILE_K) {
    // Staging: X blocks first, then W blocks, spread over the workgroup's invocations.
    for (var b = lid; b < all_blocks; b += WG) {
      if (b < x_blocks) {
        let bt = b % tokens4;
        let bk = b / tokens4;
        load_x_block(token_base + 4u * bt, k0 + 4u * bk, 4u * bk * tokens4 + bt);
      } else {
        let c = b - x_blocks;
        let bn = c % rows4;
        let bk = c / rows4;
        load_w_block(row_base + 4u * bn, k0 + 4u * bk, 4u * bk * rows4 + bn);
      }
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE_K; k++) {
      let a0 = x_tile[k * tokens4 + my_t];
      let a1 = x_tile[k * tokens4 + my_t + tokens8];
      let w0 = w_tile[k * rows4 + my_n];
      let w1 = w_tile[k * rows4 + my_n + rows8];
      a0x_w0 += a0.x * w0;
      a0x_w1 += a0.x * w1;
      a0y_w0 += a0.y * w0;
      a0y_w1 += a0.y * w1;
      a0z_w0 += a0.z * w0;
      a0z_w1 += a0.z * w1;
      a0w_w0 += a0.w * w0;
      a0w_w1 += a0.w * w1;
      a1x_w0 += a1.x * w0;
      a1x_w1 += a1.x * w1;
      a1y_w0 += a1.y * w0;
      a1y_w1 += a1.y * w1;
      a1z_w0 += a1.z * w0;
      a1z_w1 += a1.z * w1;
      a1w_w0 += a1.w * w0;
      a1w_w1 += a1.w * w1;
    }
    workgroupBarrier();
  }

  let t0 = token_base + 4u * my_t;
  let t1 = token_base + 4u * (my_t + tokens8);
  let n0 = row_base + 4u * my_n;
  let n1 = row_base + 4u * (my_n + rows8);
  store_row(t0 + 0u, n0, a0x_w0);
  store_row(t0 + 0u, n1, a0x_w1);
  store_row(t0 + 1u, n0, a0y_w0);
  store_row(t0 + 1u, n1, a0y_w1);
  store_row(t0 + 2u, n0, a0z_w0);
  store_row(t0 + 2u, n1, a0z_w1);
  store_row(t0 + 3u, n0, a0w_w0);
  store_row(t0 + 3u, n1, a0w_w1);
  store_row(t1 + 0u, n0, a1x_w0);
  store_row(t1 + 0u, n1, a1x_w1);
  store_row(t1 + 1u, n0, a1y_w0);
  store_row(t1 + 1u, n1, a1y_w1);
  store_row(t1 + 2u, n0, a1z_w0);
  store_row(t1 + 2u, n1, a1z_w1);
  store_row(t1 + 3u, n0, a1w_w0);
  store_row(t1 + 3u, n1, a1w_w1);
}
