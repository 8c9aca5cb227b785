// Pass 2 of argmax: one workgroup picks the best of the `groups` (order key, index) candidates that
// argmax_partial.wgsl wrote, with the same order (higher key first, then lower index), and writes the
// winning index to out[0].
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> candidates: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

override WG: u32 = 256; // a power of two (the tree reduction halves it)

const NO_INDEX: u32 = 0xffffffffu;

var<workgroup> best_key: array<u32, WG>;
var<workgroup> best_index: array<u32, WG>;

fn beats(key: u32, index: u32, other_key: u32, other_index: u32) -> bool {
  return key > other_key || (key == other_key && index < other_index);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  var key = 0u;
  var index = NO_INDEX;
  for (var g = lid; g < params.groups; g += WG) {
    let c = candidates[g];
    if (beats(c.x, c.y, key, index)) {
      key = c.x;
      index = c.y;
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
    out[0] = best_index[0];
  }
}
