import { BindingTooLargeError, InvalidArgumentError } from '../errors';
import type { Gpu } from './device';

/** One GPU buffer holding whole rows [firstRow, firstRow + rows) of a RowBuffer. */
export interface Shard {
  buffer: GPUBuffer;
  firstRow: number;
  rows: number;
  /** Bytes of row data in this shard (rows × rowBytes); the buffer itself is padded to 16 bytes. */
  byteLength: number;
}

/**
 * A 2-D tensor stored as rows of `rowBytes` bytes, split across as many buffers as the binding limit
 * requires. Splits fall on row boundaries, so a kernel processing rows never straddles two bindings:
 * the op dispatches once per shard with that shard's first row. Callers never choose the split.
 */
export class RowBuffer {
  constructor(
    readonly rows: number,
    readonly rowBytes: number,
    readonly shards: readonly Shard[],
    readonly label: string,
  ) {}
  get byteLength(): number {
    return this.rows * this.rowBytes;
  }
  destroy(): void {
    for (const s of this.shards) s.buffer.destroy();
  }
}

/** Rounds up to a multiple of `to` (a power of two or any positive integer). */
export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Creates every buffer inpage uses and enforces the binding-size rule in one place. Tracks live and peak
 * bytes so benchmarks can compare GPU memory against the size of weights plus KV cache.
 */
export class BufferAllocator {
  liveBytes = 0;
  peakBytes = 0;
  private readonly sizes = new WeakMap<GPUBuffer, number>();

  constructor(
    private readonly gpu: Gpu,
    /** The largest buffer that may be bound as storage: min(maxStorageBufferBindingSize, maxBufferSize, cap). */
    readonly maxBindingBytes: number,
  ) {}

  /** A storage buffer (plus copy usages) of at most maxBindingBytes. */
  createBuffer(byteLength: number, label: string, extraUsage = 0): GPUBuffer {
    const size = Math.max(16, roundUp(byteLength, 16));
    if (size > this.maxBindingBytes) throw new BindingTooLargeError(size, this.maxBindingBytes, label);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage;
    const buffer = this.gpu.scoped(() => this.gpu.device.createBuffer({ size, usage, label }));
    this.track(buffer, size);
    return buffer;
  }

  /** A storage buffer initialised with `data` (e.g. a Float32Array of activations). */
  createBufferFrom(data: ArrayBufferView, label: string): GPUBuffer {
    const buffer = this.createBuffer(data.byteLength, label);
    writeBytes(this.gpu, buffer, 0, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return buffer;
  }

  /** `rows` rows of `rowBytes` bytes, split into shards that each fit one binding. */
  createRows(rows: number, rowBytes: number, label: string): RowBuffer {
    if (rows <= 0 || rowBytes <= 0) throw new InvalidArgumentError(`${label}: rows (${rows}) and rowBytes (${rowBytes}) must be positive`);
    // Padding to 16 bytes per buffer is added after the rows, so a shard holds floor((limit-16)/rowBytes).
    const rowsPerShard = Math.floor((this.maxBindingBytes - 16) / rowBytes);
    if (rowsPerShard < 1) throw new BindingTooLargeError(rowBytes, this.maxBindingBytes, `${label}: one row`);
    const shards: Shard[] = [];
    for (let first = 0; first < rows; first += rowsPerShard) {
      const n = Math.min(rowsPerShard, rows - first);
      const buffer = this.createBuffer(n * rowBytes, shards.length ? `${label}#${shards.length}` : label);
      shards.push({ buffer, firstRow: first, rows: n, byteLength: n * rowBytes });
    }
    return new RowBuffer(rows, rowBytes, shards, label);
  }

  /** A uniform buffer (not counted against the binding limit's rule, which is about storage). */
  createUniform(byteLength: number, label: string): GPUBuffer {
    const size = roundUp(byteLength, 16);
    const buffer = this.gpu.scoped(() =>
      this.gpu.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label }),
    );
    this.track(buffer, size);
    return buffer;
  }

  /** Destroys a buffer created here and stops counting it. */
  release(buffer: GPUBuffer): void {
    const size = this.sizes.get(buffer);
    if (size !== undefined) {
      this.liveBytes -= size;
      this.sizes.delete(buffer);
    }
    buffer.destroy();
  }

  releaseRows(rows: RowBuffer): void {
    for (const s of rows.shards) this.release(s.buffer);
  }

  resetPeak(): void {
    this.peakBytes = this.liveBytes;
  }

  private track(buffer: GPUBuffer, size: number): void {
    this.sizes.set(buffer, size);
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
  }
}

/**
 * queue.writeBuffer needs 4-byte-aligned offsets and sizes; quantized rows (18-byte Q4_0 blocks, 210-byte
 * Q6_K blocks) are not. This writes a whole byte range from an aligned offset and zero-pads the unaligned
 * tail (pad bytes lie past the data and are never read). Streaming writes go through RowUploader.
 */
export function writeBytes(gpu: Gpu, buffer: GPUBuffer, offset: number, bytes: Uint8Array): void {
  if (offset % 4 !== 0) throw new InvalidArgumentError(`writeBytes: offset ${offset} is not 4-byte aligned`);
  const aligned = bytes.byteLength & ~3;
  if (aligned > 0) gpu.device.queue.writeBuffer(buffer, offset, bytes.buffer, bytes.byteOffset, aligned);
  if (aligned < bytes.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(bytes.subarray(aligned));
    gpu.device.queue.writeBuffer(buffer, offset + aligned, tail);
  }
}

/**
 * Streams the bytes of a RowBuffer in order, in pieces of any size (e.g. network or file chunks), without
 * ever holding the whole tensor in JS memory. Shard boundaries and 4-byte alignment are handled here.
 */
export class RowUploader {
  private shardIndex = 0;
  private offsetInShard = 0;
  /** Up to 3 bytes carried over until a 4-byte word is complete. */
  private carry = new Uint8Array(4);
  private carryLength = 0;
  private written = 0;

  constructor(
    private readonly gpu: Gpu,
    readonly target: RowBuffer,
  ) {}

  get bytesWritten(): number {
    return this.written;
  }

  write(chunk: Uint8Array): void {
    if (this.written + chunk.byteLength > this.target.byteLength) {
      throw new InvalidArgumentError(`${this.target.label}: upload of ${this.written + chunk.byteLength} bytes exceeds its ${this.target.byteLength} bytes`);
    }
    let pos = 0;
    while (pos < chunk.byteLength) {
      const shard = this.target.shards[this.shardIndex]!;
      const roomInShard = shard.byteLength - this.offsetInShard - this.carryLength;
      const take = Math.min(roomInShard, chunk.byteLength - pos);
      this.writeToShard(shard, chunk.subarray(pos, pos + take));
      pos += take;
      this.written += take;
      if (this.offsetInShard + this.carryLength === shard.byteLength) this.finishShard(shard);
    }
  }

  /** Call once all bytes are written; verifies the count. */
  finish(): void {
    if (this.written !== this.target.byteLength) {
      throw new InvalidArgumentError(`${this.target.label}: uploaded ${this.written} of ${this.target.byteLength} bytes`);
    }
  }

  private writeToShard(shard: Shard, bytes: Uint8Array): void {
    let pos = 0;
    if (this.carryLength > 0) {
      const fill = Math.min(4 - this.carryLength, bytes.byteLength);
      this.carry.set(bytes.subarray(0, fill), this.carryLength);
      this.carryLength += fill;
      pos = fill;
      if (this.carryLength < 4) return;
      this.gpu.device.queue.writeBuffer(shard.buffer, this.offsetInShard, this.carry);
      this.offsetInShard += 4;
      this.carry = new Uint8Array(4);
      this.carryLength = 0;
    }
    const rest = bytes.subarray(pos);
    const aligned = rest.byteLength & ~3;
    if (aligned > 0) {
      this.gpu.device.queue.writeBuffer(shard.buffer, this.offsetInShard, rest.buffer, rest.byteOffset, aligned);
      this.offsetInShard += aligned;
    }
    this.carry.set(rest.subarray(aligned), 0);
    this.carryLength = rest.byteLength - aligned;
  }

  private finishShard(shard: Shard): void {
    if (this.carryLength > 0) {
      this.carry.fill(0, this.carryLength);
      this.gpu.device.queue.writeBuffer(shard.buffer, this.offsetInShard, this.carry);
      this.carry = new Uint8Array(4);
      this.carryLength = 0;
    }
    this.shardIndex++;
    this.offsetInShard = 0;
  }
}
