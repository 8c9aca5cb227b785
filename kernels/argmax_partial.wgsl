// Pass 1 of the argmax of one logits row: workgroup g scans elements g·WG + lid, g·WG + lid + groups·WG,
// … (coalesced) and writes its best (order key, index) to candidates[g]; argmax_reduce.wgsl picks the
// winner among the groups. Elements compare by order_key (a u32 that sorts as the float does), ties go
// to the lower index as in llama.cpp's greedy sampler, and NaN ranks below −∞ so it never wins.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read_write> candidates: array<vec2<u32>>;

override WG: u32 = 256; // a power of two (the tree reduction halves it)

const NO_INDEX: u32 = 0xffffffffu; // paired with key 0: loses to every element, NaN included

var<workgroup> best_key: array<u32, WG>;
var<workgroup> best_index: array<u32, WG>;

// Maps a float to a u32 with the same order (flip negatives, set the sign bit of positives), so compares
// are integer compares that no fast-math can bend. NaN maps to 0, below −∞; −0 ranks with +0.
fn order_key(v: f32) -> u32 {
  let bits = bitcast<u32>(v);
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return 0u;
  }
  if (bits == 0x80000000u) {
    return 0x80000000u;
  }
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn beats(key: u32, index: u32, other_key: u32, other_index: u32) -> bool {
  return key > other_key || (key == other_key && index < other_index);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  var key = 0u;
  var index = NO_INDEX;
  for (var i = wid.x * WG + lid; i < params.length; i += params.groups * WG) {
    let k = order_key(f32(logits[i]));
    if (beats(k, i, key, index)) {
      key = k;
      index = i;
    }
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
  if (lid == 0u) {
    candidates[wid.x] = vec2<u32>(best_key[0], best_index[0]);
  }
}
