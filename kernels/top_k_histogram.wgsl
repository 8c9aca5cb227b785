// Pass 1 of top-k (run once per refinement level): counts the elements of one logits row into 65536 bins,
// so that top_k_threshold.wgsl can find the bin holding the k-th best element without sorting.
//   level 0: every element, binned by the top 16 bits of its order key;
//   level 1: only the elements whose key's top 16 bits are state.prefix, binned by the low 16 bits;
//   level 2: only the elements whose key is exactly state.prefix (ties), binned by index: bin
//            65535 − (index >> index_shift), so that, as at the other levels, a higher bin ranks first.
// Levels 1 and 2 do nothing once an earlier level has decided the threshold (state.done). Elements are
// scanned as argmax_partial.wgsl does (workgroup g takes g·WG + lid, then steps by groups·WG); the bins
// are zeroed by the dispatcher before level 0.
// The selection state top_k_threshold.wgsl writes (see there); this pass reads done and prefix.
struct State {
  done: u32,
  prefix: u32,
  above: u32,
  tie_key: u32,
  index_end: u32,
  count: u32,
}
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> logits: array<act>;
@group(0) @binding(2) var<storage, read> state: State;
@group(0) @binding(3) var<storage, read_write> bins: array<atomic<u32>, 65536>;

override WG: u32 = 256;

// Maps a float to a u32 with the same order (flip negatives, set the sign bit of positives), so the
// selection works on integers: a total order that no fast-math can bend. NaN maps to 0, below −∞; −0
// ranks with +0. The same function as in argmax_partial.wgsl.
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
  let first = wid.x * WG + lid;
  let step = params.groups * WG;
  if (params.level == 0u) {
    for (var i = first; i < params.length; i += step) {
      atomicAdd(&bins[order_key(f32(logits[i])) >> 16u], 1u);
    }
    return;
  }
  if (state.done != 0u) {
    return;
  }
  let prefix = state.prefix;
  if (params.level == 1u) {
    for (var i = first; i < params.length; i += step) {
      let key = order_key(f32(logits[i]));
      if ((key >> 16u) == prefix) {
        atomicAdd(&bins[key & 0xffffu], 1u);
      }
    }
    return;
  }
  for (var i = first; i < params.length; i += step) {
    if (order_key(f32(logits[i])) == prefix) {
      atomicAdd(&bins[65535u - (i >> params.index_shift)], 1u);
    }
  }
}
