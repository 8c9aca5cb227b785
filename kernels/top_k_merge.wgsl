// Pass 2 of top-k: merges the `groups` lists of k candidates that top_k_partial.wgsl wrote (each sorted
// best first) into the overall best k. One invocation per list holds that list's head; each of k rounds
// picks the best head across the workgroup (a tree reduction), writes it to the outputs, and advances
// that list. Values go out as f32 whatever the activation precision: they are bound for the CPU sampler.
struct Params {
  groups: u32,
  k: u32,
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> candidates: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out_values: array<f32>;
@group(0) @binding(3) var<storage, read_write> out_indices: array<u32>;

override WG: u32 = 128; // a power of two ≥ groups

const NO_INDEX: u32 = 0xffffffffu;

var<workgroup> best_key: array<u32, WG>;
var<workgroup> best_index: array<u32, WG>;

fn beats(key: u32, index: u32, other_key: u32, other_index: u32) -> bool {
  return key > other_key || (key == other_key && index < other_index);
}

// The inverse of top_k_partial's order_key. NaN's key 0 comes back as the NaN bit pattern 0xffffffff.
fn value_of(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var head = 0u; // position in this invocation's list of the next candidate it offers
  for (var r = 0u; r < params.k; r++) {
    var key = 0u;
    var index = NO_INDEX;
    if (lid < params.groups && head < params.k) {
      let c = candidates[lid * params.k + head];
      key = c.x;
      index = c.y;
    }
    best_key[lid] = key;
    best_index[lid] = index;
    workgroupBarrier();
    for (var step = WG / 2u; step > 0u; step >>= 1u) {
      if (lid < step && beats(best_key[lid + step], best_index[lid + step], best_key[lid], best_index[lid])) {
        best_key[lid] = best_key[lid + step];
        best_index[lid] = best_index[lid + step];
      }
      workgroupBarrier();
    }
    // Element indices are unique across lists, so the index alone tells which list won.
    let winner = best_index[0];
    if (index == winner && index != NO_INDEX) {
      head += 1u;
    }
    if (lid == 0u) {
      out_values[r] = value_of(best_key[0]);
      out_indices[r] = winner;
    }
    // Everyone has read the winner before the next round overwrites best_key / best_index.
    workgroupBarrier();
  }
}
