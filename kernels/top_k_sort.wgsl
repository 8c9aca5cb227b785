// Pass 4 of top-k (one workgroup): sorts the candidates top_k_collect.wgsl gathered (k ≤ count ≤
// CAPACITY), best first, by a bitonic sort in workgroup memory over the next power of two ≥ count, and
// writes the first k. The order is llama.cpp's: higher value first, ties to the lower index; NaN (key 0)
// ranks below −∞. Values go out as f32 whatever the activation precision: they are bound for the CPU
// sampler.
struct State {
  done: u32,
  prefix: u32,
  above: u32,
  tie_key: u32,
  index_end: u32,
  count: u32,
}
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> state: State;
@group(0) @binding(2) var<storage, read> candidates: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out_values: array<f32>;
@group(0) @binding(4) var<storage, read_write> out_indices: array<u32>;

override WG: u32 = 256;
override CAPACITY: u32 = 2048; // a power of two; 2 × 4 × CAPACITY bytes of workgroup memory

const NO_INDEX: u32 = 0xffffffffu; // paired with key 0: padding that loses to every element

var<workgroup> keys: array<u32, CAPACITY>;
var<workgroup> indices: array<u32, CAPACITY>;

fn beats(key: u32, index: u32, other_key: u32, other_index: u32) -> bool {
  return key > other_key || (key == other_key && index < other_index);
}

// The inverse of the order key. NaN's key 0 comes back as the NaN bit pattern 0xffffffff.
fn value_of(key: u32) -> f32 {
  return bitcast<f32>(select(~key, key & 0x7fffffffu, (key & 0x80000000u) != 0u));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    keys[0] = min(state.count, CAPACITY); // borrowed to share the count (workgroup memory is full)
  }
  let count = workgroupUniformLoad(&keys[0]);
  workgroupBarrier(); // everyone has read keys[0] before it is overwritten
  var n = 2u;
  while (n < count) {
    n <<= 1u;
  }
  for (var s = lid; s < n; s += WG) {
    var key = 0u;
    var index = NO_INDEX;
    if (s < count) {
      let c = candidates[s];
      key = c.x;
      index = c.y;
    }
    keys[s] = key;
    indices[s] = index;
  }
  workgroupBarrier();
  // Bitonic sort of the first n entries, best first. Each (size, stride) stage compares disjoint pairs;
  // blocks of `size` alternate direction so that two neighbours form a bitonic run for the next size,
  // and the last size (n) is sorted best-first throughout.
  for (var size = 2u; size <= n; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      for (var p = lid; p < n / 2u; p += WG) {
        let a = ((p & ~(stride - 1u)) << 1u) | (p & (stride - 1u));
        let b = a + stride;
        let best_first = (a & size) == 0u;
        let ka = keys[a];
        let ia = indices[a];
        let kb = keys[b];
        let ib = indices[b];
        if (beats(kb, ib, ka, ia) == best_first) {
          keys[a] = kb;
          indices[a] = ib;
          keys[b] = ka;
          indices[b] = ia;
        }
      }
      workgroupBarrier();
    }
  }
  for (var r = lid; r < params.k; r += WG) {
    out_values[r] = value_of(keys[r]);
    out_indices[r] = indices[r];
  }
}
