import { rowBytes, type GgmlTypeName } from '../formats/ggml_types';
import { RowUploader, type Gpu, type RowBuffer } from '../gpu';

/**
 * A weight matrix on the GPU in its GGUF form: `rows` output rows of `cols` input values, each row a run
 * of quantized blocks exactly as in the file. GGUF dims [cols, rows] (dims[0] innermost) map to this.
 * It may span several storage bindings (see RowBuffer); kernels that use it dispatch per shard.
 */
export interface QuantMatrix {
  type: GgmlTypeName;
  rows: number;
  cols: number;
  data: RowBuffer;
}

export function createQuantMatrix(gpu: Gpu, type: GgmlTypeName, rows: number, cols: number, label: string): QuantMatrix {
  return { type, rows, cols, data: gpu.allocator.createRows(rows, rowBytes(type, cols), label) };
}

/** A matrix filled from its packed bytes, in one call (tests, small tensors). Large tensors stream via RowUploader. */
export function uploadQuantMatrix(gpu: Gpu, type: GgmlTypeName, rows: number, cols: number, bytes: Uint8Array, label: string): QuantMatrix {
  const m = createQuantMatrix(gpu, type, rows, cols, label);
  const up = new RowUploader(gpu, m.data);
  up.write(bytes);
  up.finish();
  return m;
}

export function destroyQuantMatrix(gpu: Gpu, m: QuantMatrix): void {
  gpu.allocator.releaseRows(m.data);
}
