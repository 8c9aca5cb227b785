// out[r, i] = x[r, i] / sqrt(mean(x[r, :]²) + eps) · w[i]: llama.cpp's RMS_NORM fused with the norm
// weight's MUL. One workgroup per row, because the row's sum of squares is a reduction every element of
// the row waits for; the threads stride over the row (coalesced) and meet in a tree in workgroup memory.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/norm.ts.
@group(0) @binding(1) var<storage, read> x: array<act>;
// The norm weight is an F32 GGUF tensor: its bytes, unchanged, read as words.
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<act>;

override WG: u32 = 256; // a power of two (the tree reduction halves it)

var<workgroup> partial_sums: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let row = wid.x + wid.y * nwg.x;
  // Uniform per workgroup (grid padding), so the barriers below stay in uniform control flow.
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;

  var sum_sq = 0.0;
  for (var i = lid; i < params.cols; i += WG) {
    let v = f32(x[base + i]);
    sum_sq += v * v;
  }
  partial_sums[lid] = sum_sq;
  workgroupBarrier();
  for (var step = WG / 2u; step > 0u; step >>= 1u) {
    if (lid < step) {
      partial_sums[lid] += partial_sums[lid + step];
    }
    workgroupBarrier();
  }
  let scale = inverseSqrt(partial_sums[0] / f32(params.cols) + params.eps);

  for (var i = lid; i < params.cols; i += WG) {
    out[base + i] = act(f32(x[base + i]) * scale * bitcast<f32>(weights[i]));
  }
}
