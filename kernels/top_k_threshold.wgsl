// Pass 2 of top-k (once per refinement level, one workgroup): finds, in the 65536 bins that
// top_k_histogram.wgsl counted at this level, the bin X holding the element of rank `need` (counting
// from the best, higher bins first), where need = k − state.above (the elements already known to rank
// above this level's bins). `a`, the count of the bins above X, is < need ≤ a + count(X). Then:
//   level 0 (X = the key's top 16 bits): if the a + count(X) elements of bins ≥ X fit in `capacity`,
//     the threshold is decided: collect every key ≥ X << 16. Otherwise refine inside bin X.
//   level 1 (X = the low 16 bits): the k-th key is T = prefix << 16 | X. If the keys ≥ T fit, collect
//     them all; otherwise T is tied by more elements than fit, and level 2 ranks the ties by index.
//   level 2 (X = 65535 − (index >> index_shift)): collect the keys > T and the ties with an index below
//     the end of X's index range: fewer than 2k + 2^index_shift elements.
// The decision goes to state as (tie_key, index_end): top_k_collect.wgsl keeps an element when its key
// > tie_key, or = tie_key with an index < index_end. A level after the decision does nothing.
struct State {
  done: u32, // 1 once tie_key and index_end are final
  prefix: u32, // the key bits fixed so far (level 1: the top 16; level 2: the whole key T)
  above: u32, // how many elements rank above the bins of the next level
  tie_key: u32,
  index_end: u32,
  count: u32, // top_k_collect.wgsl's counter; zeroed by the dispatcher
}
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/sampling.ts.
@group(0) @binding(1) var<storage, read> bins: array<vec4<u32>, 16384>; // 65536 counts
@group(0) @binding(2) var<storage, read_write> state: State;

const WG: u32 = 256; // 256 blocks of 256 bins
const EVERY_INDEX: u32 = 0xffffffffu;

var<workgroup> sums: array<u32, WG>;
var<workgroup> skip: u32;
var<workgroup> block: u32;
var<workgroup> block_above: u32;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    skip = select(0u, 1u, params.level > 0u && state.done != 0u);
  }
  if (workgroupUniformLoad(&skip) != 0u) {
    return;
  }
  let need = params.k - state.above; // level 0: above is 0 (zeroed by the dispatcher)
  // Block lid = bins 256·lid … 256·lid + 255.
  var sum = 0u;
  for (var j = 0u; j < 64u; j++) {
    let c = bins[lid * 64u + j];
    sum += c.x + c.y + c.z + c.w;
  }
  sums[lid] = sum;
  workgroupBarrier();
  if (lid == 0u) {
    var acc = 0u;
    var b = WG - 1u;
    loop {
      if (acc + sums[b] >= need || b == 0u) {
        break;
      }
      acc += sums[b];
      b -= 1u;
    }
    block = b;
    block_above = acc;
  }
  workgroupBarrier();
  let base = block * WG;
  let c = bins[(base + lid) / 4u];
  sums[lid] = c[lid % 4u];
  workgroupBarrier();
  if (lid != 0u) {
    return;
  }
  var a = block_above;
  var x = WG - 1u;
  loop {
    if (a + sums[x] >= need || x == 0u) {
      break;
    }
    a += sums[x];
    x -= 1u;
  }
  let bin = base + x;
  let fits = state.above + a + sums[x] <= params.capacity;
  if (params.level == 0u) {
    if (fits) {
      state.done = 1u;
      state.tie_key = bin << 16u;
      state.index_end = EVERY_INDEX;
    } else {
      state.prefix = bin;
      state.above = a;
    }
  } else if (params.level == 1u) {
    let key = (state.prefix << 16u) | bin;
    if (fits) {
      state.done = 1u;
      state.tie_key = key;
      state.index_end = EVERY_INDEX;
    } else {
      state.prefix = key;
      state.above += a;
    }
  } else {
    state.done = 1u;
    state.tie_key = state.prefix;
    state.index_end = (65536u - bin) << params.index_shift;
  }
}
