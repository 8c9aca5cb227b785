// Second pass of log Σ exp(x): combines the per-workgroup (max, sum) pairs into out[0] = max + log(sum).
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/logits.ts.
@group(0) @binding(1) var<storage, read> partials: array<vec2<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const WG: u32 = 256u;
var<workgroup> shared_max: array<f32, WG>;
var<workgroup> shared_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = EMPTY_MAX_SUM;
  for (var i = lid.x; i < params.count; i += WG) {
    acc = merge_max_sum(acc, partials[i]);
  }
  shared_max[lid.x] = acc.x;
  shared_sum[lid.x] = acc.y;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lid.x < stride) {
      let m = merge_max_sum(vec2<f32>(shared_max[lid.x], shared_sum[lid.x]), vec2<f32>(shared_max[lid.x + stride], shared_sum[lid.x + stride]));
      shared_max[lid.x] = m.x;
      shared_sum[lid.x] = m.y;
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    out[0] = shared_max[0] + log(shared_sum[0]);
  }
}
