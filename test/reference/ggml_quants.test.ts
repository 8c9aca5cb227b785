// The reference dequantizer (./ggml_quants.ts, written from ggml-quants.c) against ggml's own to_float: for
// every file type llama.cpp's quantizer writes, each tensor decoded by the reference equals the same tensor
// in the all-F32 file llama.cpp dequantizes it to. The kernels' tests and the exact reference forward pass
// both rest on this decoder, so it is checked first, on files whose blocks llama.cpp itself chose.
import { describe, expect, it } from 'vitest';
import { dequantizeMatrix, QUANT_TYPES, type QuantType } from './ggml_quants';
import { readGguf } from './gguf_reader';
import { FORTUNES_F32, LLAMACPP_FILE_TYPES, llamaCppFile, wideSyntheticF32 } from './llamacpp_files';

const seen = new Set<QuantType>();

describe.each([
  ['fortunes-1.8m (width 192)', () => FORTUNES_F32],
  ['synthetic qwen2 (width 256)', wideSyntheticF32],
] as const)('%s', (_, base) => {
  it.each(LLAMACPP_FILE_TYPES)('%s: every tensor decodes as ggml to_float decodes it', (ftype) => {
    const file = llamaCppFile(base(), ftype);
    const quantized = readGguf(file.path);
    const exact = readGguf(file.exact);
    expect(exact.tensors.size).toBe(quantized.tensors.size);
    for (const [name, t] of quantized.tensors) {
      expect(t.type, `${name}: type id ${t.typeId}`).toBeDefined();
      seen.add(t.type!);
      const e = exact.tensors.get(name)!;
      expect(e.type).toBe('F32');
      const cols = t.dims[0]!;
      const rows = t.dims.slice(1).reduce((a, b) => a * b, 1);
      const ours = dequantizeMatrix(t.type!, t.data, rows, cols);
      const theirs = dequantizeMatrix('F32', e.data, rows, cols);
      // ggml computes in f32 (e.g. (d·sc)·q − dmin·m), we in float64: a few f32 ulps of the row's largest value.
      for (let r = 0; r < rows; r++) {
        let amax = 0;
        for (let c = 0; c < cols; c++) amax = Math.max(amax, Math.abs(theirs[r * cols + c]!));
        for (let c = 0; c < cols; c++) {
          const i = r * cols + c;
          if (!(Math.abs(ours[i]! - theirs[i]!) <= 1e-6 * amax)) {
            throw new Error(`${ftype} ${name} (${t.type}) [${r}, ${c}]: ${ours[i]} vs llama.cpp ${theirs[i]}`);
          }
        }
      }
    }
  });
});

it('the files cover every type the reference decodes but F16 (which the fixtures cover)', () => {
  expect(QUANT_TYPES.filter((t) => !seen.has(t))).toEqual(['F16']);
});
