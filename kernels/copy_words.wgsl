// dst[i] = src[i] for `count` 16-byte words. The bandwidth roofline the benchmarks compare against:
// it reads and writes each byte once and does no arithmetic.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/copy.ts.
@group(0) @binding(1) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<u32>>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < params.count) {
    dst[i] = src[i];
  }
}
