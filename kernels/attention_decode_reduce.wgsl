// Second half of split-K decode attention: combines the per-chunk softmax states (m_c, l_c, o_c) written
// by attention_decode_split.wgsl into the output of one head:
//   M = max_c m_c,  w_c = exp(m_c - M),  out = Σ_c w_c · o_c / Σ_c w_c · l_c
// One workgroup per head; its threads split the chunks into CHUNK_LANES interleaved sets per column.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/attention.ts.
@group(0) @binding(1) var<storage, read> partials: array<vec4<f32>>; // [n_head, n_chunks, 1 + D4]
@group(0) @binding(2) var<storage, read_write> out: array<act4>;     // [n_head, HEAD_DIM]

override HEAD_DIM: u32 = 64;
override WG: u32 = 64; // a power of two and a multiple of D4
override D4: u32 = HEAD_DIM / 4;
override CHUNK_LANES: u32 = WG / D4;

var<workgroup> lane_max: array<f32, WG>;
var<workgroup> lane_sum: array<f32, WG>;
var<workgroup> lane_out: array<vec4<f32>, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let record_size = 1u + D4;
  let base = head * params.n_chunks * record_size;

  // M: a tree reduction of per-thread maxima. Every chunk holds at least one position, so M is finite.
  var m = -3.0e38;
  for (var c = lid; c < params.n_chunks; c += WG) {
    m = max(m, partials[base + c * record_size].x);
  }
  lane_max[lid] = m;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid < stride) {
      lane_max[lid] = max(lane_max[lid], lane_max[lid + stride]);
    }
    workgroupBarrier();
  }
  let global_max = lane_max[0];

  let col = lid % D4;
  let lane = lid / D4;
  var weighted_out = vec4<f32>(0.0);
  var weighted_sum = 0.0;
  for (var c = lane; c < params.n_chunks; c += CHUNK_LANES) {
    let record = base + c * record_size;
    let stats = partials[record];
    let w = exp(stats.x - global_max);
    weighted_out += w * partials[record + 1u + col];
    weighted_sum += w * stats.y;
  }
  lane_out[lid] = weighted_out;
  lane_sum[lid] = weighted_sum;
  workgroupBarrier();

  if (lane == 0u) {
    var total_out = vec4<f32>(0.0);
    var total_sum = 0.0;
    for (var l = 0u; l < CHUNK_LANES; l++) {
      total_out += lane_out[l * D4 + col];
      // Every column of a lane saw the same chunks: take the sum from any one of them.
      total_sum += lane_sum[l * D4];
    }
    out[head * D4 + col] = act4(total_out / total_sum);
  }
}
