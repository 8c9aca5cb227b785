import packedWeights from '../../kernels/common/packed_weights.wgsl?raw';
import source from '../../kernels/embedding_lookup.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import type { GgmlTypeName } from '../formats/ggml_types';
import { grid, uniforms, type Gpu, type Kernel, type Recorder } from '../gpu';
import { needActivations, needBytes, needCount } from './checks';
import type { QuantMatrix } from './weights';

const WG = 256;
const embeddingUniforms = uniforms({
  tokens: 'u32',
  cols: 'u32', // a multiple of 4
  row_bytes: 'u32',
  first_row: 'u32', // the shard's first row of the table
  shard_rows: 'u32',
  vocab: 'u32',
});

/**
 * One kernel per table type: the source is the same, and a generated one-line `dequant4` picks the type's
 * decoder from packed_weights.wgsl, so the kernel never branches on the type at run time.
 */
const kernels = new Map<GgmlTypeName, Kernel>();
function kernelFor(type: GgmlTypeName): Kernel {
  let kernel = kernels.get(type);
  if (!kernel) {
    const decoder = `dequant4_${type.toLowerCase()}`;
    const pick = `fn dequant4(row: u32, k: u32) -> vec4<f32> { return ${decoder}(row, k); }`;
    kernel = { name: `embedding_lookup_${type.toLowerCase()}`, source, uniforms: embeddingUniforms, includes: [packedWeights, pick] };
    kernels.set(type, kernel);
  }
  return kernel;
}

export interface EmbeddingLookupArgs {
  /** The token embedding table [vocab, dim] in its GGUF form (any weight type), possibly sharded. */
  table: QuantMatrix;
  /** `tokens` u32 token ids (see uploadTokenIds). An id ≥ vocab yields a zero row and reads nothing. */
  ids: GPUBuffer;
  tokens: number;
  /** Activations [tokens, dim]. */
  out: GPUBuffer;
}

/** out[t, :] = table[ids[t], :], dequantized. One dispatch per shard of the table. */
export function embeddingLookup(rec: Recorder, { table, ids, tokens, out }: EmbeddingLookupArgs): void {
  const what = 'embeddingLookup';
  needCount(what, 'tokens', tokens);
  // Each invocation decodes four consecutive values; every quantized block size is a multiple of 4.
  if (table.cols % 4 !== 0) throw new InvalidArgumentError(`${what}: a ${table.type} table of ${table.cols} columns is not a multiple of 4 wide`);
  needBytes(what, 'ids', ids, 4 * tokens, `${tokens} u32 ids`);
  needActivations(rec.gpu, what, 'out', out, tokens * table.cols, `[${tokens}, ${table.cols}]`);
  const pipeline = rec.gpu.pipelines.get(kernelFor(table.type), { precision: rec.gpu.precision, constants: { WG } });
  const workgroups = grid(rec.gpu, Math.ceil((tokens * table.cols) / 4 / WG));
  for (const shard of table.data.shards) {
    const p = embeddingUniforms.pack({ tokens, cols: table.cols, row_bytes: table.data.rowBytes, first_row: shard.firstRow, shard_rows: shard.rows, vocab: table.rows });
    rec.dispatch(pipeline, p, [ids, shard.buffer, out], workgroups);
  }
}

/** A u32 buffer of token ids, each checked against the vocabulary here, where the ids are still on the CPU. */
export function uploadTokenIds(gpu: Gpu, ids: ArrayLike<number>, vocab: number, label = 'token ids'): GPUBuffer {
  if (ids.length === 0) throw new InvalidArgumentError(`${label}: no token ids`);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocab) {
      throw new InvalidArgumentError(`${label}: token ${t} has id ${id}, outside the vocabulary [0, ${vocab})`);
    }
  }
  return gpu.allocator.createBufferFrom(Uint32Array.from(ids), label);
}
