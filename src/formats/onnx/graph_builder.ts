/**
 * Builds ONNX models (ModelProto bytes) from TypeScript: inputs, outputs, initializers, nodes.
 * Used by the GGUF→ONNX exporter (src/backends/ort) and by tests that need small ONNX graphs with real
 * input/output names (Stable Diffusion components, op checks against onnxruntime-node).
 *
 * Large initializers can go to an "external data" blob instead of the protobuf, the way optimum exports
 * do (`model.onnx` + `model.onnx_data`): protobuf caps a message at 2 GiB, and onnxruntime-web takes
 * external data as a separate buffer.
 *
 * Field numbers follow onnx/onnx.proto (IR version 10).
 */
import { ProtoMessage } from './protobuf';

export type OnnxDataType = 'float32' | 'uint8' | 'int8' | 'int32' | 'int64' | 'bool' | 'float16';

const DATA_TYPE_CODE: Record<OnnxDataType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
};

/** A dimension is a fixed size or a symbolic name (e.g. 'batch_size', 'sequence_length'). */
export type OnnxDim = number | string;

export type OnnxAttribute = number | string | number[] | string[] | { float: number } | { floats: number[] } | { tensor: TensorData };

export interface TensorData {
  type: OnnxDataType;
  dims: readonly number[];
  /** Little-endian element bytes, or a typed array whose bytes are used as is. */
  data: ArrayBufferView;
}

export interface BuildOptions {
  /** Name of the external data file initializers refer to (e.g. 'model.onnx_data'). */
  externalDataPath?: string;
  /** Initializers of at least this many bytes go to the external blob (default: 1 KiB). */
  externalThreshold?: number;
}

export interface BuiltModel {
  model: Uint8Array;
  /** The external data blob, when any initializer was moved out of the protobuf. */
  externalData?: { path: string; data: Uint8Array };
}

const IR_VERSION = 10;
// Offsets in the external blob are aligned so that a runtime may map tensors without copying.
const EXTERNAL_ALIGNMENT = 64;

export class OnnxGraphBuilder {
  private readonly nodes: ProtoMessage[] = [];
  private readonly inputs: ProtoMessage[] = [];
  private readonly outputs: ProtoMessage[] = [];
  private readonly initializers: { name: string; tensor: TensorData }[] = [];
  private readonly usedNames = new Set<string>();
  private nodeCount = 0;

  constructor(
    private readonly graphName: string,
    /** Operator sets the model imports, e.g. { '': 21, 'com.microsoft': 1 }. */
    private readonly opsets: Record<string, number> = { '': 21 },
  ) {}

  input(name: string, type: OnnxDataType, shape: readonly OnnxDim[]): string {
    this.inputs.push(valueInfo(name, type, shape));
    this.usedNames.add(name);
    return name;
  }

  output(name: string, type: OnnxDataType, shape: readonly OnnxDim[]): string {
    this.outputs.push(valueInfo(name, type, shape));
    return name;
  }

  initializer(name: string, tensor: TensorData): string {
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    const expected = elements * bytesPerElement(tensor.type);
    if (tensor.data.byteLength !== expected) {
      throw new Error(`initializer ${name}: ${tensor.data.byteLength} bytes for dims [${tensor.dims}] of ${tensor.type} (expected ${expected})`);
    }
    this.initializers.push({ name, tensor });
    this.usedNames.add(name);
    return name;
  }

  /** A float32 initializer from numbers. */
  floats(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    return this.initializer(name, { type: 'float32', dims, data: Float32Array.from(values) });
  }

  /** An int64 initializer (shapes, axes, indices). */
  int64s(name: string, dims: readonly number[], values: readonly number[]): string {
    return this.initializer(name, { type: 'int64', dims, data: BigInt64Array.from(values.map((v) => BigInt(v))) });
  }

  /**
   * Adds a node and returns its output names. `outputs` may be a count (names are generated) or names.
   * An empty input name marks an optional input that is left out.
   */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: number | readonly string[] = 1,
    attributes: Record<string, OnnxAttribute> = {},
    domain = '',
  ): string[] {
    const id = this.nodeCount++;
    const outNames = typeof outputs === 'number' ? Array.from({ length: outputs }, (_, k) => this.fresh(`${opType}_${id}_${k}`)) : [...outputs];
    for (const n of outNames) this.usedNames.add(n);
    const node = new ProtoMessage();
    for (const i of inputs) node.string(1, i);
    for (const o of outNames) node.string(2, o);
    node.string(3, `${opType}_${id}`);
    node.string(4, opType);
    for (const [name, value] of Object.entries(attributes)) node.message(5, attribute(name, value));
    if (domain) node.string(7, domain);
    this.nodes.push(node);
    return outNames;
  }

  /** Shorthand for a single-output node. */
  op(opType: string, inputs: readonly string[], attributes: Record<string, OnnxAttribute> = {}, domain = ''): string {
    return this.node(opType, inputs, 1, attributes, domain)[0]!;
  }

  build(options: BuildOptions = {}): BuiltModel {
    const threshold = options.externalThreshold ?? 1024;
    const external: Uint8Array[] = [];
    let externalSize = 0;

    const graph = new ProtoMessage();
    for (const node of this.nodes) graph.message(1, node);
    graph.string(2, this.graphName);
    for (const { name, tensor } of this.initializers) {
      const bytes = viewBytes(tensor.data);
      const proto = new ProtoMessage();
      proto.packedVarints(1, tensor.dims);
      proto.varint(2, DATA_TYPE_CODE[tensor.type]);
      proto.string(8, name);
      if (options.externalDataPath && bytes.byteLength >= threshold) {
        const padding = (EXTERNAL_ALIGNMENT - (externalSize % EXTERNAL_ALIGNMENT)) % EXTERNAL_ALIGNMENT;
        if (padding) external.push(new Uint8Array(padding));
        externalSize += padding;
        proto.message(13, entry('location', options.externalDataPath));
        proto.message(13, entry('offset', String(externalSize)));
        proto.message(13, entry('length', String(bytes.byteLength)));
        proto.varint(14, 1); // data_location = EXTERNAL
        external.push(bytes);
        externalSize += bytes.byteLength;
      } else {
        proto.bytes(9, bytes); // raw_data
      }
      graph.message(5, proto);
    }
    for (const input of this.inputs) graph.message(11, input);
    for (const output of this.outputs) graph.message(12, output);

    const model = new ProtoMessage();
    model.varint(1, IR_VERSION);
    model.string(2, 'inpage');
    model.message(7, graph);
    for (const [domain, version] of Object.entries(this.opsets)) {
      const opset = new ProtoMessage();
      if (domain) opset.string(1, domain);
      opset.varint(2, version);
      model.message(8, opset);
    }
    const built: BuiltModel = { model: model.toBytes() };
    if (options.externalDataPath && external.length > 0) {
      const data = new Uint8Array(externalSize);
      let offset = 0;
      for (const part of external) {
        data.set(part, offset);
        offset += part.byteLength;
      }
      built.externalData = { path: options.externalDataPath, data };
    }
    return built;
  }

  private fresh(base: string): string {
    let name = base;
    for (let k = 1; this.usedNames.has(name); k++) name = `${base}_${k}`;
    return name;
  }
}

export function bytesPerElement(type: OnnxDataType): number {
  switch (type) {
    case 'float32':
    case 'int32':
      return 4;
    case 'int64':
      return 8;
    case 'float16':
      return 2;
    default:
      return 1;
  }
}

function viewBytes(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function entry(key: string, value: string): ProtoMessage {
  return new ProtoMessage().string(1, key).string(2, value);
}

function valueInfo(name: string, type: OnnxDataType, shape: readonly OnnxDim[]): ProtoMessage {
  const dims = new ProtoMessage();
  for (const d of shape) {
    const dim = new ProtoMessage();
    if (typeof d === 'number') dim.varint(1, d);
    else dim.string(2, d);
    dims.message(1, dim);
  }
  const tensorType = new ProtoMessage().varint(1, DATA_TYPE_CODE[type]).message(2, dims);
  const typeProto = new ProtoMessage().message(1, tensorType);
  return new ProtoMessage().string(1, name).message(2, typeProto);
}

// AttributeProto.AttributeType values.
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

function attribute(name: string, value: OnnxAttribute): ProtoMessage {
  const a = new ProtoMessage().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: use { float: x } for float attributes`);
    return a.varint(3, value).varint(20, ATTR.INT);
  }
  if (typeof value === 'string') return a.string(4, value).varint(20, ATTR.STRING);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      for (const s of value as string[]) a.string(9, s);
      return a.varint(20, ATTR.STRINGS);
    }
    return a.packedVarints(8, value as number[]).varint(20, ATTR.INTS);
  }
  if ('float' in value) return a.float(2, value.float).varint(20, ATTR.FLOAT);
  if ('floats' in value) return a.packedFloats(7, value.floats).varint(20, ATTR.FLOATS);
  const t = value.tensor;
  const tensor = new ProtoMessage().packedVarints(1, t.dims).varint(2, DATA_TYPE_CODE[t.type]).bytes(9, viewBytes(t.data));
  return a.message(5, tensor).varint(20, ATTR.TENSOR);
}
