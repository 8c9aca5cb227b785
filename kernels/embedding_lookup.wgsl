// out[t, :] = row ids[t] of a quantized table [vocab, cols], dequantized, for the shard of the table that
// holds rows [first_row, first_row + shard_rows). The op dispatches once per shard (which shard a token's
// row lives in is known only here, on the GPU) and an invocation skips a token whose row is in another
// shard. Each invocation writes four consecutive values through `dequant4`, a one-line function the op
// generates to call the table type's decoder in packed_weights.wgsl. An id past the vocabulary (the ids
// buffer may come from anywhere) reads nothing: the first shard's dispatch writes zeros for it.
// `params` (binding 0): the uniforms declared with the dispatcher, src/ops/embedding.ts.
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read> weights: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<act4>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) nwg: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid; // index of a group of four outputs
  let quads = params.cols / 4u;
  if (i >= params.tokens * quads) {
    return;
  }
  let id = ids[i / quads];
  if (id >= params.vocab) {
    if (params.first_row == 0u) {
      out[i] = act4(0.0);
    }
    return;
  }
  if (id < params.first_row || id - params.first_row >= params.shard_rows) {
    return;
  }
  out[i] = act4(dequant4((id - params.first_row) * params.row_bytes, (i % quads) * 4u));
}
