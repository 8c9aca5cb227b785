import { InvalidArgumentError } from '../errors';
import { bytesPerActivation, type Gpu } from '../gpu';

/**
 * The argument checks every dispatcher makes before recording (a kernel reading past a binding would read
 * zeros or garbage, not fail), phrased one way everywhere: `what` is the op, `name` the argument.
 */

/** `buffer` holds at least `bytes` bytes of `contents`. */
export function needBytes(what: string, name: string, buffer: { size: number }, bytes: number, contents: string): void {
  if (buffer.size < bytes) throw new InvalidArgumentError(`${what}: ${name} holds ${buffer.size} bytes, ${contents} need ${bytes}`);
}

/** `buffer` holds `count` activations of the device's precision; `shape` describes them in the message. */
export function needActivations(gpu: Gpu, what: string, name: string, buffer: { size: number }, count: number, shape = `${count}`): void {
  needBytes(what, name, buffer, count * bytesPerActivation(gpu), `${shape} activations (${gpu.precision})`);
}

/** WebGPU rejects a buffer bound both read-only and writable in one dispatch; say so before it does. */
export function needDistinct(what: string, out: [string, GPUBuffer], inputs: [string, GPUBuffer | undefined][]): void {
  for (const [name, buffer] of inputs) {
    if (buffer === out[1]) throw new InvalidArgumentError(`${what}: ${out[0]} must be a different buffer from ${name}`);
  }
}

/** A positive integer count (rows, tokens, …). */
export function needCount(what: string, name: string, n: number): void {
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${what}: ${name} (${n}) must be a positive integer`);
}
