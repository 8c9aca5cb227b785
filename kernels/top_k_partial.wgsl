// Pass 1 of top-k over one logits row. Workgroup g walks chunks g, g + groups, … of CHUNK − k
// consecutive elements. Its workgroup memory holds CHUNK (order key, index) entries: the first k are the
// best seen so far, sorted, the rest are the chunk just loaded; a bitonic sort of all CHUNK entries
// brings the new best k to the front. At the end the best k go to candidates[g·k …], sorted best
// first, which top_k_merge.wgsl relies on. The order is llama.cpp's: higher value first, ties to the
// lower index; NaN ranks below −∞ (it is picked only when fewer than k entries are numbers).
struct Params {
  length: u32,
  groups: u32,
  k: u32, // < CHUNK
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read_write> candidates: array<vec2<u32>>;

override WG: u32 = 256;
override CHUNK: u32 = 2048; // a power of two; 2 × 4 × CHUNK bytes of workgroup memory

const NO_INDEX: u32 = 0xffffffffu; // paired with key 0: padding that loses to every element

var<workgroup> keys: array<u32, CHUNK>;
var<workgroup> indices: array<u32, CHUNK>;

// Maps a float to a u32 with the same order (flip negatives, set the sign bit of positives), so the sort
// compares integers: a total order that no fast-math can bend. NaN maps to 0, below −∞; −0 ranks with +0.
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

// Bitonic sort of keys/indices, best first. Each (size, stride) stage compares disjoint pairs; blocks of
// `size` alternate direction so that two neighbours form a bitonic run for the next size, and the last
// size (CHUNK) is sorted best-first throughout.
fn sort_best_first(lid: u32) {
  for (var size = 2u; size <= CHUNK; size <<= 1u) {
    for (var stride = size >> 1u; stride > 0u; stride >>= 1u) {
      for (var p = lid; p < CHUNK / 2u; p += WG) {
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
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let k = params.k;
  for (var s = lid; s < k; s += WG) {
    keys[s] = 0u;
    indices[s] = NO_INDEX;
  }
  let fresh = CHUNK - k;
  for (var start = wid.x * fresh; start < params.length; start += params.groups * fresh) {
    for (var s = lid; s < fresh; s += WG) {
      let i = start + s;
      var key = 0u;
      var index = NO_INDEX;
      if (i < params.length) {
        key = order_key(f32(logits[i]));
        index = i;
      }
      keys[k + s] = key;
      indices[k + s] = index;
    }
    workgroupBarrier();
    sort_best_first(lid);
  }
  for (var s = lid; s < k; s += WG) {
    candidates[wid.x * k + s] = vec2<u32>(keys[s], indices[s]);
  }
}
