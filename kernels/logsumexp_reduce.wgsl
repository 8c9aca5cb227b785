// Second pass of log Σ exp(x): combines the per-workgroup (max, sum) pairs into out[0] = max + log(sum).
struct Params {
  count: u32, // number of partial pairs
}
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> partials: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
// -FLT_MAX stands for -inf (WGSL has no infinity literal); exp(NEG_MAX - m) is 0 for any finite m.
const NEG_MAX: f32 = -0x1.fffffep+127f;
var<workgroup> shared_max: array<f32, WG>;
var<workgroup> shared_sum: array<f32, WG>;

fn merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
  let m = max(a.x, b.x);
  if (m == NEG_MAX) {
    return vec2<f32>(m, 0.0);
  }
  return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = vec2<f32>(NEG_MAX, 0.0);
  for (var i = lid.x; i < params.count; i += WG) {
    acc = merge(acc, partials[i]);
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
    out[0] = shared_max[0] + log(shared_sum[0]);
  }
}
