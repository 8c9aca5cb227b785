/**
 * A minimal protocol-buffers *encoder* — just the wire types ONNX's ModelProto uses (varint, 64-bit-free
 * fixed32 floats, length-delimited bytes and nested messages).
 *
 * Why hand-written: the ONNX schema needs five wire-format primitives, while a protobuf library plus
 * generated ONNX bindings would add ~100 kB to the bundle. Messages are kept as lists of byte parts and
 * concatenated once, so a multi-megabyte initializer is copied exactly once into the final file.
 */
export class ProtoMessage {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  get byteLength(): number {
    return this.size;
  }

  /** Field of wire type 0 (int32, int64, enum, bool). Negative numbers take the 10-byte two's complement form. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.push(encodeVarint(value));
    return this;
  }

  /** Field of wire type 5 holding an IEEE float32. */
  float(field: number, value: number): this {
    this.tag(field, 5);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.push(bytes);
    return this;
  }

  /** Field of wire type 2 holding raw bytes (kept by reference, not copied). */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.push(encodeVarint(value.byteLength));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, value: ProtoMessage): this {
    this.tag(field, 2);
    this.push(encodeVarint(value.size));
    for (const part of value.parts) this.push(part);
    return this;
  }

  /** A repeated varint field in packed form (proto3's default for repeated scalars). */
  packedVarints(field: number, values: readonly (number | bigint)[]): this {
    const encoded = values.map((v) => encodeVarint(v));
    const total = encoded.reduce((n, e) => n + e.byteLength, 0);
    this.tag(field, 2);
    this.push(encodeVarint(total));
    for (const e of encoded) this.push(e);
    return this;
  }

  /** A repeated float field in packed form. */
  packedFloats(field: number, values: readonly number[]): this {
    const bytes = new Uint8Array(values.length * 4);
    const view = new DataView(bytes.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, bytes);
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }

  private tag(field: number, wireType: number): void {
    this.push(encodeVarint(field * 8 + wireType));
  }

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.byteLength;
  }
}

export function encodeVarint(value: number | bigint): Uint8Array {
  let v = typeof value === 'bigint' ? value : BigInt(Math.trunc(value));
  if (v < 0n) v = BigInt.asUintN(64, v);
  if (v < 0x80n) return Uint8Array.of(Number(v));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}
