// First pass of log Σ exp(x) over a long row (a vocabulary of up to ~256k logits): each workgroup reduces
// one slice to (max, Σ exp(x - max)), the numerically safe pair. logsumexp_reduce.wgsl combines them.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/logits.ts.
@group(0) @binding(1) var<storage, read> x: array<act>;
@group(0) @binding(2) var<storage, read_write> partials: array<vec2<f32>>;

const WG: u32 = 256u;
var<workgroup> shared_max: array<f32, WG>;
var<workgroup> shared_sum: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let start = wid.x * params.slice;
  let end = min(start + params.slice, params.length);
  var acc = EMPTY_MAX_SUM;
  for (var i = start + lid.x; i < end; i += WG) {
    let v = f32(x[i]);
    if (v == v) { // NaN logits are ignored, as the samplers ignore them
      acc = merge_max_sum(acc, vec2<f32>(v, 1.0));
    }
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
    partials[wid.x] = vec2<f32>(shared_max[0], shared_sum[0]);
  }
}
