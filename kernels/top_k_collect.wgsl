// Pass 3 of top-k: appends every element at or above the threshold top_k_threshold.wgsl decided (key >
// state.tie_key, or key = tie_key with index < state.index_end) to `candidates` as (order key, index),
// in no particular order, through the atomic state.count. The threshold guarantees at least k and at
// most `capacity` of them; top_k_sort.wgsl orders them. Elements are scanned as in top_k_histogram.wgsl.
struct State {
  done: u32,
  prefix: u32,
  above: u32,
  tie_key: u32,
  index_end: u32,
  count: atomic<u32>,
}
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read_write> state: State;
@group(0) @binding(3) var<storage, read_write> candidates: array<vec2<u32>>;

override WG: u32 = 256;

// The same order key as top_k_histogram.wgsl.
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

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tie_key = state.tie_key;
  let index_end = state.index_end;
  for (var i = wid.x * WG + lid; i < params.length; i += params.groups * WG) {
    let key = order_key(f32(logits[i]));
    if (key > tie_key || (key == tie_key && i < index_end)) {
      let slot = atomicAdd(&state.count, 1u);
      if (slot < params.capacity) {
        candidates[slot] = vec2<u32>(key, i);
      }
    }
  }
}
