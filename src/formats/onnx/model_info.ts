/**
 * Reads what a loader must know about an ONNX model before handing it to a runtime: the graph's inputs and
 * outputs (names, element types, declared shapes) and the external data files its initializers live in
 * (optimum writes `model.onnx_data`; older exports `weights.pb`). Only the fields needed are decoded: the
 * walk skips every other field by its length, so a model with gigabytes of inline weights costs no copy.
 *
 * Field numbers: onnx/onnx.proto — ModelProto.graph = 7; GraphProto.initializer = 5, input = 11,
 * output = 12; ValueInfoProto.name = 1, type = 2; TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1,
 * shape = 2; TensorShapeProto.dim = 1; Dimension.dim_value = 1, dim_param = 2; TensorProto.name = 8,
 * external_data = 13 (StringStringEntryProto key = 1, value = 2), data_location = 14.
 */
import { ModelFileError } from '../../errors';

export type OnnxElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'int8' | 'uint8' | 'bool' | 'double' | 'bfloat16' | 'other';

const ELEM_TYPES: Record<number, OnnxElemType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'double', 16: 'bfloat16' };

export interface OnnxValueInfo {
  name: string;
  type: OnnxElemType;
  /** Declared dimensions: a number, a symbolic name, or null when the export left it unnamed. */
  shape: (number | string | null)[];
}

export interface OnnxModelInfo {
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** Names of external data files referenced by initializers (relative to the model's folder). */
  externalDataFiles: string[];
}

interface Field {
  no: number;
  wire: number;
  /** varint value (wire 0) */
  value?: number;
  /** bytes (wire 2) */
  start?: number;
  end?: number;
}

function* fields(buf: Uint8Array, start: number, end: number, what: string): Generator<Field> {
  let p = start;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= end) throw new ModelFileError('InvalidModelFile', `${what}: truncated protobuf varint`);
      const b = buf[p++]!;
      v += (b & 0x7f) * mul;
      if (!(b & 0x80)) return v;
      mul *= 128;
    }
    throw new ModelFileError('InvalidModelFile', `${what}: malformed protobuf varint`);
  };
  while (p < end) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { no, wire, value: varint() };
    else if (wire === 2) {
      const len = varint();
      if (p + len > end) throw new ModelFileError('InvalidModelFile', `${what}: protobuf field ${no} runs past the end of the file`);
      yield { no, wire, start: p, end: p + len };
      p += len;
    } else if (wire === 1) p += 8;
    else if (wire === 5) p += 4;
    else throw new ModelFileError('InvalidModelFile', `${what}: unsupported protobuf wire type ${wire}; is this an ONNX file?`);
  }
}

const utf8 = new TextDecoder();
const str = (buf: Uint8Array, f: Field) => utf8.decode(buf.subarray(f.start, f.end));

function valueInfo(buf: Uint8Array, f: Field, what: string): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', type: 'other', shape: [] };
  for (const v of fields(buf, f.start!, f.end!, what)) {
    if (v.no === 1 && v.wire === 2) info.name = str(buf, v);
    if (v.no !== 2 || v.wire !== 2) continue;
    for (const t of fields(buf, v.start!, v.end!, what)) {
      if (t.no !== 1 || t.wire !== 2) continue; // tensor_type
      for (const tt of fields(buf, t.start!, t.end!, what)) {
        if (tt.no === 1 && tt.wire === 0) info.type = ELEM_TYPES[tt.value!] ?? 'other';
        if (tt.no !== 2 || tt.wire !== 2) continue;
        for (const d of fields(buf, tt.start!, tt.end!, what)) {
          if (d.no !== 1 || d.wire !== 2) continue;
          let dim: number | string | null = null;
          for (const x of fields(buf, d.start!, d.end!, what)) {
            if (x.no === 1 && x.wire === 0) dim = x.value!;
            if (x.no === 2 && x.wire === 2) dim = str(buf, x);
          }
          info.shape.push(dim);
        }
      }
    }
  }
  return info;
}

/** Inputs, outputs and external data files of an ONNX ModelProto. `what` names the file in errors. */
export function readOnnxModelInfo(model: Uint8Array, what = 'model.onnx'): OnnxModelInfo {
  const out: OnnxModelInfo = { inputs: [], outputs: [], externalDataFiles: [] };
  const external = new Set<string>();
  const initializers = new Set<string>();
  let graphs = 0;
  for (const f of fields(model, 0, model.length, what)) {
    if (f.no !== 7 || f.wire !== 2) continue;
    graphs++;
    for (const g of fields(model, f.start!, f.end!, what)) {
      if (g.wire !== 2) continue;
      if (g.no === 11) out.inputs.push(valueInfo(model, g, what));
      else if (g.no === 12) out.outputs.push(valueInfo(model, g, what));
      else if (g.no === 5) {
        for (const t of fields(model, g.start!, g.end!, what)) {
          if (t.no === 8 && t.wire === 2) initializers.add(str(model, t));
          if (t.no !== 13 || t.wire !== 2) continue;
          let key = '';
          let value = '';
          for (const e of fields(model, t.start!, t.end!, what)) {
            if (e.no === 1 && e.wire === 2) key = str(model, e);
            if (e.no === 2 && e.wire === 2) value = str(model, e);
          }
          if (key === 'location') external.add(value);
        }
      }
    }
  }
  if (graphs === 0) throw new ModelFileError('InvalidModelFile', `${what} has no graph: it is not an ONNX model (or it is truncated)`);
  // Initializers are listed as graph inputs too in old IR versions; keep only the true inputs.
  out.inputs = out.inputs.filter((i) => !initializers.has(i.name));
  out.externalDataFiles = [...external];
  return out;
}
