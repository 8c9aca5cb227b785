// Causal attention for T new tokens at once (prefill), flash-style:
//   out[t, h, :] = softmax_j(scale · q[t, h, :] · k[j, kvh, :]) · v[j, kvh, :],  j = 0 .. past + t,
// with kvh = h / (n_head / n_kv_head) (grouped-query attention).
// One workgroup per (tile of BQ query tokens, query head). It walks the cache in tiles of BK positions
// staged in workgroup memory and keeps a running max and sum per query row (online softmax), rescaling
// its accumulator whenever the max grows, so the T×S score matrix never exists. It stops at the causal
// limit of its last row; rows whose limit lies inside a tile mask the positions past it.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/attention.ts.
@group(0) @binding(1) var<storage, read> q: array<act4>;        // [T, n_head, HEAD_DIM]
@group(0) @binding(2) var<storage, read> k_cache: array<act4>;  // [max_context, n_kv_head, HEAD_DIM]
@group(0) @binding(3) var<storage, read> v_cache: array<act4>;  // [max_context, n_kv_head, HEAD_DIM]
@group(0) @binding(4) var<storage, read_write> out: array<act4>; // [T, n_head, HEAD_DIM]

override HEAD_DIM: u32 = 64;
override BQ: u32 = 32;  // query tokens per workgroup: each K/V tile loaded is reused by BQ rows
override BK: u32 = 16;  // cache positions per tile
override WG: u32 = 128; // a multiple of HEAD_DIM / 4 and of BQ
override D4: u32 = HEAD_DIM / 4;
// K/V tile rows are padded by one vec4: in the score loop neighbouring threads read different rows at
// the same column, and an unpadded stride of HEAD_DIM floats would put them all in the same bank.
override KV_STRIDE: u32 = D4 + 1;
// In the score and softmax phases PARTS threads share a query row, each taking every PARTS-th position.
override PARTS: u32 = WG / BQ;
// In the accumulate phase thread `lid` owns output column lid % D4 of rows lid / D4, + ROW_LANES, ...
override ROW_LANES: u32 = WG / D4;
override ROWS_PER_THREAD: u32 = (BQ + ROW_LANES - 1u) / ROW_LANES;

// Private arrays need a constant size; the dispatcher keeps ROWS_PER_THREAD within it.
const MAX_ROWS_PER_THREAD = 8u;
// Score of a masked position. Finite, unlike -inf, so exp(MASKED - MASKED) in a row with nothing valid
// (padding rows past T) is 1 rather than NaN; exp(MASKED - real max) is exactly 0.
const MASKED = -1.0e30;

var<workgroup> q_tile: array<vec4<f32>, BQ * D4>;        // the tile's queries, already multiplied by scale
var<workgroup> kv_tile: array<vec4<f32>, BK * KV_STRIDE>; // K of the current tile, then its V
var<workgroup> probs: array<f32, BQ * BK>;               // scores, then exp(score - row max)
var<workgroup> part_max: array<f32, WG>;                 // [BQ, PARTS]: max of each thread's scores
var<workgroup> part_sum: array<f32, WG>;                 // [BQ, PARTS]: sum of each thread's exps
var<workgroup> row_max: array<f32, BQ>;                  // running max over the tiles before this one
var<workgroup> row_sum: array<f32, BQ>;
var<workgroup> row_new_max: array<f32, BQ>;              // max including this tile, committed after use
var<workgroup> row_rescale: array<f32, BQ>;              // exp(old max - new max) of this tile

fn load_kv_tile(from_v: bool, tile_start: u32, kv_end: u32, kv_head: u32, lid: u32) {
  let row_stride = params.n_kv_head * D4;
  for (var i = lid; i < BK * D4; i += WG) {
    let j = i / D4;
    let c = i % D4;
    let pos = tile_start + j;
    var value = vec4<f32>(0.0);
    // Positions past the causal limit are never read: they may not be written yet.
    if (pos < kv_end) {
      let at = pos * row_stride + kv_head * D4 + c;
      if (from_v) {
        value = vec4<f32>(v_cache[at]);
      } else {
        value = vec4<f32>(k_cache[at]);
      }
    }
    kv_tile[j * KV_STRIDE + c] = value;
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let first_token = wid.x * BQ;
  let head = wid.y;
  let kv_head = head / (params.n_head / params.n_kv_head);
  let rows = min(BQ, params.tokens - first_token);
  let token_stride = params.n_head * D4;
  // Causal limit (exclusive) of the tile's last row; earlier rows stop sooner and mask in the last tiles.
  let kv_end = params.past + first_token + rows;

  for (var i = lid; i < BQ * D4; i += WG) {
    let r = i / D4;
    var value = vec4<f32>(0.0);
    if (r < rows) {
      value = vec4<f32>(q[(first_token + r) * token_stride + head * D4 + i % D4]) * params.scale;
    }
    q_tile[i] = value;
  }
  for (var r = lid; r < BQ; r += WG) {
    row_max[r] = MASKED;
    row_sum[r] = 0.0;
  }

  let score_row = lid / PARTS;
  let part = lid % PARTS;
  let col = lid % D4;
  let row_lane = lid / D4;
  var acc: array<vec4<f32>, MAX_ROWS_PER_THREAD>;
  for (var k = 0u; k < ROWS_PER_THREAD; k++) {
    acc[k] = vec4<f32>(0.0);
  }

  for (var tile_start = 0u; tile_start < kv_end; tile_start += BK) {
    load_kv_tile(false, tile_start, kv_end, kv_head, lid);
    workgroupBarrier();

    // Scores of the tile and their maximum per thread.
    var local_max = MASKED;
    for (var j = part; j < BK; j += PARTS) {
      var score = MASKED;
      if (score_row < rows && tile_start + j <= params.past + first_token + score_row) {
        var dot_sum = 0.0;
        for (var c = 0u; c < D4; c++) {
          dot_sum += dot(q_tile[score_row * D4 + c], kv_tile[j * KV_STRIDE + c]);
        }
        score = dot_sum;
      }
      probs[score_row * BK + j] = score;
      local_max = max(local_max, score);
    }
    part_max[lid] = local_max;
    workgroupBarrier();

    // V replaces K in the tile while the scores become exp(score - new row max). row_max is still the
    // old max here (other threads of the row read it): the new one is committed in the next phase.
    load_kv_tile(true, tile_start, kv_end, kv_head, lid);
    let old_max = row_max[score_row];
    var new_max = old_max;
    for (var p = 0u; p < PARTS; p++) {
      new_max = max(new_max, part_max[score_row * PARTS + p]);
    }
    var local_sum = 0.0;
    for (var j = part; j < BK; j += PARTS) {
      let weight = exp(probs[score_row * BK + j] - new_max);
      probs[score_row * BK + j] = weight;
      local_sum += weight;
    }
    part_sum[lid] = local_sum;
    if (part == 0u) {
      row_new_max[score_row] = new_max;
      row_rescale[score_row] = exp(old_max - new_max);
    }
    workgroupBarrier();

    for (var r = lid; r < BQ; r += WG) {
      var tile_sum = 0.0;
      for (var p = 0u; p < PARTS; p++) {
        tile_sum += part_sum[r * PARTS + p];
      }
      row_sum[r] = row_sum[r] * row_rescale[r] + tile_sum;
      row_max[r] = row_new_max[r];
    }
    // acc = acc · rescale + P·V for this thread's rows at its column; each V element is loaded once.
    for (var k = 0u; k < ROWS_PER_THREAD; k++) {
      let r = row_lane + k * ROW_LANES;
      if (r < BQ) {
        acc[k] *= row_rescale[r];
      }
    }
    for (var j = 0u; j < BK; j++) {
      let v = kv_tile[j * KV_STRIDE + col];
      for (var k = 0u; k < ROWS_PER_THREAD; k++) {
        let r = row_lane + k * ROW_LANES;
        if (r < BQ) {
          acc[k] += probs[r * BK + j] * v;
        }
      }
    }
    // The next tile overwrites kv_tile and probs.
    workgroupBarrier();
  }

  for (var k = 0u; k < ROWS_PER_THREAD; k++) {
    let r = row_lane + k * ROW_LANES;
    if (r < rows) {
      out[(first_token + r) * token_stride + head * D4 + col] = act4(acc[k] / row_sum[r]);
    }
  }
}
