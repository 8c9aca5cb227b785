import { InvalidArgumentError } from '../errors';
import { BLOCK_LAYOUT, rowBytes, type GgmlTypeName } from '../formats/ggml_types';
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

/** The checks matvec and matmul make of their weight: a type we run, a whole number of blocks per row, data of that shape. */
export function needQuantMatrix(what: string, weight: QuantMatrix): void {
  const { type, rows, cols } = weight;
  if (!(type in BLOCK_LAYOUT)) throw new InvalidArgumentError(`${what}: unsupported weight type ${String(type)}`);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new InvalidArgumentError(`${what}: weight shape ${rows}×${cols} must be positive integers`);
  }
  const { blockValues } = BLOCK_LAYOUT[type];
  if (cols % blockValues !== 0) throw new InvalidArgumentError(`${what}: a ${type} row holds a multiple of ${blockValues} values, got cols = ${cols}`);
  if (weight.data.rows !== rows || weight.data.rowBytes !== rowBytes(type, cols)) {
    throw new InvalidArgumentError(
      `${what}: weight data is ${weight.data.rows} rows of ${weight.data.rowBytes} bytes, but a ${type} ${rows}×${cols} matrix needs ${rows} rows of ${rowBytes(type, cols)} bytes`,
    );
  }
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
