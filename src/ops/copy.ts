import source from '../../kernels/copy_words.wgsl?raw';
import { InvalidArgumentError } from '../errors';
import { grid, uniforms, type Recorder } from '../gpu';

const kernel = { name: 'copy_words', source, uniforms: uniforms({ count: 'u32' /* vec4<u32> elements */ }) };
const WG = 256;

/** Copies `bytes` (a multiple of 16) from src to dst with a compute kernel (the bandwidth roofline). */
export function copyWords(rec: Recorder, src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
  if (bytes % 16 !== 0) throw new InvalidArgumentError(`copyWords: ${bytes} bytes is not a multiple of 16`);
  const count = bytes / 16;
  const pipeline = rec.gpu.pipelines.get(kernel, { constants: { WG } });
  rec.dispatch(pipeline, kernel.uniforms.pack({ count }), [src, dst], grid(rec.gpu, Math.ceil(count / WG)));
}
