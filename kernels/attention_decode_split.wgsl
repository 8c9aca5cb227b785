// Attention of one new token over a long KV cache, first half of split-K ("flash-decoding"): the cache
// positions 0 .. length-1 are cut into chunks, and one workgroup per (chunk, kv head, head group) computes,
// for each of GROUP_HEADS query heads sharing that kv head, the chunk's partial softmax state:
//   m = max_j s_j,  l = Σ_j exp(s_j - m),  o = Σ_j exp(s_j - m) · v_j,   s_j = scale · q · k_j
// over the chunk's positions j. attention_decode_reduce.wgsl combines the chunks. Serving all query heads
// of a kv head in one workgroup means each K/V byte is read from memory once per token.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/attention.ts.
@group(0) @binding(1) var<storage, read> q: array<act4>;        // [n_head, HEAD_DIM]
@group(0) @binding(2) var<storage, read> k_cache: array<act4>;  // [max_context, n_kv_head, HEAD_DIM]
@group(0) @binding(3) var<storage, read> v_cache: array<act4>;  // [max_context, n_kv_head, HEAD_DIM]
// [n_head, n_chunks, 1 + D4]: per (head, chunk) one vec4 (m, l, 0, 0), then the D4 vec4s of o. Always f32:
// partial sums are internal and keep full precision whatever the activation type.
@group(0) @binding(4) var<storage, read_write> partials: array<vec4<f32>>;

override HEAD_DIM: u32 = 64;
override GROUP_HEADS: u32 = 1; // query heads per workgroup: a divisor of n_head / n_kv_head
override BK: u32 = 16;         // cache positions per tile
override WG: u32 = 64;         // a multiple of D4
// Threads that split one score's dot product when GROUP_HEADS · BK scores are fewer than the threads:
// max(1, WG / (GROUP_HEADS · BK)), set by the dispatcher.
override SCORE_LANES: u32 = 1;
// Threads per output column (WG / D4). With fewer heads than that, the spare ones take every
// KEY_LANES-th position of a tile (KEY_LANES = max(1, ROW_LANES / GROUP_HEADS), set by the dispatcher)
// and their sums are added at the end.
override KEY_LANES: u32 = 1;
override D4: u32 = HEAD_DIM / 4;
override KV_STRIDE: u32 = D4 + 1; // K rows padded by a vec4 so threads reading different rows miss bank conflicts
override ROW_LANES: u32 = WG / D4;
override SLOTS: u32 = GROUP_HEADS * KEY_LANES;             // (head, key lane) accumulators in the workgroup
override SLOTS_PER_THREAD: u32 = (SLOTS + ROW_LANES - 1u) / ROW_LANES;

const MAX_SLOTS_PER_THREAD = 8u;
const MASKED = -1.0e30; // score of a position past the chunk: exp(MASKED - real max) is exactly 0

var<workgroup> q_tile: array<vec4<f32>, GROUP_HEADS * D4>; // the group's queries, multiplied by scale
var<workgroup> k_tile: array<vec4<f32>, BK * KV_STRIDE>;
var<workgroup> v_tile: array<vec4<f32>, BK * D4>;
var<workgroup> score_parts: array<f32, GROUP_HEADS * BK * SCORE_LANES>;
var<workgroup> probs: array<f32, GROUP_HEADS * BK>;
var<workgroup> row_max: array<f32, GROUP_HEADS>;
var<workgroup> row_sum: array<f32, GROUP_HEADS>;
var<workgroup> row_rescale: array<f32, GROUP_HEADS>;
var<workgroup> lane_acc: array<vec4<f32>, WG>; // key lanes' sums, added at the end

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x;
  let groups_per_kv = params.n_head / params.n_kv_head / GROUP_HEADS;
  let kv_head = wid.y / groups_per_kv;
  let first_head = wid.y * GROUP_HEADS; // heads of one kv head are consecutive
  let chunk_start = chunk * params.chunk_size;
  let chunk_end = min(params.length, chunk_start + params.chunk_size);
  let kv_row_stride = params.n_kv_head * D4;

  for (var i = lid; i < GROUP_HEADS * D4; i += WG) {
    q_tile[i] = vec4<f32>(q[first_head * D4 + i]) * params.scale;
  }
  for (var h = lid; h < GROUP_HEADS; h += WG) {
    row_max[h] = MASKED;
    row_sum[h] = 0.0;
  }

  let col = lid % D4;
  let row_lane = lid / D4;
  // Every slot of a thread has the same key lane: several slots per thread only when KEY_LANES is 1.
  let key_lane = row_lane / GROUP_HEADS;
  var acc: array<vec4<f32>, MAX_SLOTS_PER_THREAD>;
  for (var k = 0u; k < SLOTS_PER_THREAD; k++) {
    acc[k] = vec4<f32>(0.0);
  }

  for (var tile_start = chunk_start; tile_start < chunk_end; tile_start += BK) {
    // K and V of the tile are fetched together, so each thread has several loads in flight at once.
    for (var i = lid; i < BK * D4; i += WG) {
      let j = i / D4;
      let c = i % D4;
      let pos = tile_start + j;
      var k_value = vec4<f32>(0.0);
      var v_value = vec4<f32>(0.0);
      if (pos < chunk_end) {
        let at = pos * kv_row_stride + kv_head * D4 + c;
        k_value = vec4<f32>(k_cache[at]);
        v_value = vec4<f32>(v_cache[at]);
      }
      k_tile[j * KV_STRIDE + c] = k_value;
      v_tile[j * D4 + c] = v_value;
    }
    workgroupBarrier();

    // Partial dot products: score (h, j) is split over SCORE_LANES threads taking every SCORE_LANES-th vec4.
    for (var s = lid; s < GROUP_HEADS * BK * SCORE_LANES; s += WG) {
      let score_index = s / SCORE_LANES;
      let lane = s % SCORE_LANES;
      let h = score_index / BK;
      let j = score_index % BK;
      var dot_sum = 0.0;
      for (var c = lane; c < D4; c += SCORE_LANES) {
        dot_sum += dot(q_tile[h * D4 + c], k_tile[j * KV_STRIDE + c]);
      }
      score_parts[s] = dot_sum;
    }
    workgroupBarrier();

    // One thread per head: finish the scores, update the running max and sum, turn scores into weights.
    for (var h = lid; h < GROUP_HEADS; h += WG) {
      let old_max = row_max[h];
      var new_max = old_max;
      for (var j = 0u; j < BK; j++) {
        var score = MASKED;
        if (tile_start + j < chunk_end) {
          score = 0.0;
          for (var lane = 0u; lane < SCORE_LANES; lane++) {
            score += score_parts[(h * BK + j) * SCORE_LANES + lane];
          }
        }
        probs[h * BK + j] = score;
        new_max = max(new_max, score);
      }
      var tile_sum = 0.0;
      for (var j = 0u; j < BK; j++) {
        let p = exp(probs[h * BK + j] - new_max);
        probs[h * BK + j] = p;
        tile_sum += p;
      }
      let rescale = exp(old_max - new_max);
      row_sum[h] = row_sum[h] * rescale + tile_sum;
      row_max[h] = new_max;
      row_rescale[h] = rescale;
    }
    workgroupBarrier();

    for (var k = 0u; k < SLOTS_PER_THREAD; k++) {
      let slot = row_lane + k * ROW_LANES;
      if (slot < SLOTS) {
        acc[k] *= row_rescale[slot % GROUP_HEADS];
      }
    }
    for (var j = key_lane; j < BK; j += KEY_LANES) {
      let v = v_tile[j * D4 + col];
      for (var k = 0u; k < SLOTS_PER_THREAD; k++) {
        let slot = row_lane + k * ROW_LANES;
        if (slot < SLOTS) {
          acc[k] += probs[(slot % GROUP_HEADS) * BK + j] * v;
        }
      }
    }
    // The next tile overwrites the tiles and probs.
    workgroupBarrier();
  }

  let record_size = 1u + D4;
  if (KEY_LANES > 1u) {
    // One slot per thread here (SLOTS ≤ ROW_LANES); add the key lanes of each head into lane 0.
    lane_acc[lid] = acc[0];
    workgroupBarrier();
    if (row_lane < GROUP_HEADS) {
      var total = acc[0];
      for (var lane = 1u; lane < KEY_LANES; lane++) {
        total += lane_acc[(row_lane + lane * GROUP_HEADS) * D4 + col];
      }
      let head = first_head + row_lane;
      partials[(head * params.n_chunks + chunk) * record_size + 1u + col] = total;
    }
  } else {
    for (var k = 0u; k < SLOTS_PER_THREAD; k++) {
      let slot = row_lane + k * ROW_LANES;
      if (slot < SLOTS) {
        let head = first_head + slot;
        partials[(head * params.n_chunks + chunk) * record_size + 1u + col] = acc[k];
      }
    }
  }
  for (var h = lid; h < GROUP_HEADS; h += WG) {
    partials[((first_head + h) * params.n_chunks + chunk) * record_size] = vec4<f32>(row_max[h], row_sum[h], 0.0, 0.0);
  }
}
