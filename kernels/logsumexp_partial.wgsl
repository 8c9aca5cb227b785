// First pass of log Σ exp(x) over a long row (a vocabulary of up to ~256k logits): each workgroup reduces
// one slice to (max, Σ exp(x - max)), the numerically safe pair. logsumexp_reduce.wgsl combines them.
struct Params {
  length: u32,
  slice: u32, // elements per workgroup
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec2<f32>>;

const WG: u32 = 256u;
// -FLT_MAX stands for -inf (WGSL has no infinity literal); exp(NEG_MAX - m) is 0 for any finite m.
const NEG_MAX: f32 = -0x1.fffffep+127f;
var<workgroup> shared_max: array<f32, WG>;
var<workgroup> shared_sum: array<f32, WG>;

// Merges two (max, sum) pairs: both sums rescaled to the larger max. -inf maxima (empty) merge to the other.
fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  if (m == NEG_MAX) {
    return vec2<f32>(m, 0.0);
  }
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let start = wid.x * params.slice;
  let end = min(start + params.slice, params.length);
  var acc = vec2<f32>(NEG_MAX, 0.0);
  for (var i = start + lid.x; i < end; i += WG) {
    let v = f32(x[i]);
    if (v == v) { // NaN logits are ignored, as the samplers ignore them
      acc = merge(acc, vec2<f32>(v, 1.0));
    }
  }
  shared_max[lid.x] = acc.x;
  shared_sum[lid.x] = acc.y;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid.x < stride) {
      let m = merge(vec2<f32>(shared_max[lid.x], shared_sum[lid.x]), vec2<f32>(shared_max[lid.x + stride], shared_sum[lid.x + stride]));
      shared_max[lid.x] = m.x;
      shared_sum[lid.x] = m.y;
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    partials[wid.x] = vec2<f32>(shared_max[0], shared_sum[0]);
  }
}
