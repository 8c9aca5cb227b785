/**
 * A minimal GGUF reader for the exact reference, written from the spec (ggml's docs/gguf.md) and sharing
 * no code with src/ or @huggingface/gguf, so the SDK's parser is compared against an independent reading.
 * It reads the whole file into memory (test models are small) and checks little beyond what it needs.
 */
import { readFileSync } from 'node:fs';
import { REFERENCE_BLOCKS, type QuantType } from './ggml_quants';

export type RefValue = number | bigint | boolean | string | RefValue[];

export interface RefTensor {
  name: string;
  /** GGUF order: dims[0] innermost. */
  dims: number[];
  typeId: number;
  /** Our name when it is one of the types the reference decodes. */
  type: QuantType | undefined;
  /** Absolute offset in the file. */
  offset: number;
  byteLength: number;
  data: Uint8Array;
}

export interface RefGguf {
  version: number;
  metadata: Map<string, RefValue>;
  tensors: Map<string, RefTensor>;
  /** In file order. */
  tensorList: RefTensor[];
  dataOffset: number;
  alignment: number;
  fileSize: number;
}

// enum ggml_type of ggml.h.
const TYPE_IDS: Record<number, QuantType> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 10: 'Q2_K', 11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K',
  14: 'Q6_K', 20: 'IQ4_NL', 23: 'IQ4_XS', 30: 'BF16',
};

class Cursor {
  private readonly view: DataView;
  at = 0;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  private need(n: number): number {
    if (this.at + n > this.bytes.length) throw new Error(`GGUF reader: read past the end at byte ${this.at}`);
    const at = this.at;
    this.at += n;
    return at;
  }
  u8 = () => this.view.getUint8(this.need(1));
  i8 = () => this.view.getInt8(this.need(1));
  u16 = () => this.view.getUint16(this.need(2), true);
  i16 = () => this.view.getInt16(this.need(2), true);
  u32 = () => this.view.getUint32(this.need(4), true);
  i32 = () => this.view.getInt32(this.need(4), true);
  f32 = () => this.view.getFloat32(this.need(4), true);
  f64 = () => this.view.getFloat64(this.need(8), true);
  u64 = () => this.view.getBigUint64(this.need(8), true);
  i64 = () => this.view.getBigInt64(this.need(8), true);
  size = () => {
    const v = this.u64();
    if (v > BigInt(this.bytes.length)) throw new Error(`GGUF reader: size ${v} exceeds the file`);
    return Number(v);
  };
  string = () => {
    const n = this.size();
    const at = this.need(n);
    return new TextDecoder().decode(this.bytes.subarray(at, at + n));
  };
  value(type: number): RefValue {
    switch (type) {
      case 0: return this.u8();
      case 1: return this.i8();
      case 2: return this.u16();
      case 3: return this.i16();
      case 4: return this.u32();
      case 5: return this.i32();
      case 6: return this.f32();
      case 7: return this.u8() !== 0;
      case 8: return this.string();
      case 9: {
        const itemType = this.u32();
        const n = this.size();
        const out: RefValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(itemType));
        return out;
      }
      case 10: return this.u64();
      case 11: return this.i64();
      case 12: return this.f64();
      default: throw new Error(`GGUF reader: unknown value type ${type}`);
    }
  }
}

/** Bytes of a tensor, when its type is one the reference knows. */
function byteLength(type: QuantType | undefined, dims: number[]): number {
  if (!type) return 0;
  const { values, bytes } = REFERENCE_BLOCKS[type];
  return (dims.reduce((a, b) => a * b, 1) / values) * bytes;
}

export function readGguf(pathOrBytes: string | Uint8Array): RefGguf {
  const bytes = typeof pathOrBytes === 'string' ? new Uint8Array(readFileSync(pathOrBytes)) : pathOrBytes;
  const c = new Cursor(bytes);
  const magic = String.fromCharCode(c.u8(), c.u8(), c.u8(), c.u8());
  if (magic !== 'GGUF') throw new Error(`GGUF reader: bad magic "${magic}"`);
  const version = c.u32();
  if (version !== 2 && version !== 3) throw new Error(`GGUF reader: version ${version}`);
  const nTensors = c.size();
  const nKv = c.size();
  const metadata = new Map<string, RefValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string();
    metadata.set(key, c.value(c.u32()));
  }
  const infos: { name: string; dims: number[]; typeId: number; rel: number }[] = [];
  for (let i = 0; i < nTensors; i++) {
    const name = c.string();
    const nDims = c.u32();
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(Number(c.u64()));
    const typeId = c.u32();
    infos.push({ name, dims, typeId, rel: Number(c.u64()) });
  }
  const alignment = Number(metadata.get('general.alignment') ?? 32);
  const dataOffset = Math.ceil(c.at / alignment) * alignment;
  const tensorList = infos.map(({ name, dims, typeId, rel }) => {
    const type = TYPE_IDS[typeId];
    const offset = dataOffset + rel;
    const n = byteLength(type, dims);
    if (offset + n > bytes.length) throw new Error(`GGUF reader: tensor ${name} runs past the end of the file`);
    return { name, dims, typeId, type, offset, byteLength: n, data: bytes.subarray(offset, offset + n) };
  });
  return {
    version, metadata, tensorList, tensors: new Map(tensorList.map((t) => [t.name, t])), dataOffset, alignment, fileSize: bytes.length,
  };
}
