import { ContextOverflowError } from '../errors';
import { bytesPerActivation, type Gpu } from '../gpu';
import type { ModelConfig } from './config';

/**
 * Keys and values of every layer for up to `contextLength` positions, on the GPU, in the activation
 * precision. Layout per layer: [position, kvHead, headDim], so appending the k/v projections of T new
 * tokens is one contiguous buffer copy.
 */
export class KvCache {
  readonly keys: GPUBuffer[] = [];
  readonly values: GPUBuffer[] = [];
  /** Positions filled so far. */
  length = 0;
  /** Bytes of one position of one layer's K (or V). */
  readonly rowBytes: number;

  constructor(
    private readonly gpu: Gpu,
    config: ModelConfig,
    readonly contextLength: number,
  ) {
    this.rowBytes = config.nKvHeads * config.headDim * bytesPerActivation(gpu);
    for (let i = 0; i < config.nLayers; i++) {
      this.keys.push(gpu.allocator.createBuffer(contextLength * this.rowBytes, `kv.k.${i}`));
      this.values.push(gpu.allocator.createBuffer(contextLength * this.rowBytes, `kv.v.${i}`));
    }
  }

  get bytes(): number {
    return 2 * this.keys.length * this.contextLength * this.rowBytes;
  }

  /** Throws ContextOverflowError unless `tokens` more positions fit. */
  reserve(tokens: number): void {
    if (this.length + tokens > this.contextLength) throw new ContextOverflowError(this.length + tokens, this.contextLength);
  }

  /** Forgets everything (a new conversation); the buffers are reused. */
  clear(): void {
    this.length = 0;
  }

  destroy(): void {
    for (const b of [...this.keys, ...this.values]) this.gpu.allocator.release(b);
    this.keys.length = 0;
    this.values.length = 0;
  }
}
