// out[i] = a[i] + b[i] over `count` elements: the residual connection.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/activation.ts.
@group(0) @binding(1) var<storage, read> a: array<act>;
@group(0) @binding(2) var<storage, read> b: array<act>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  out[i] = act(f32(a[i]) + f32(b[i]));
}
