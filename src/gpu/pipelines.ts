import { ShaderCompileError, UnsupportedFeatureError } from '../errors';
import type { Gpu } from './device';
import type { Uniforms } from './uniforms';

export type Precision = 'f32' | 'f16';

/** A WGSL kernel: one file of kernels/, imported as a string (`?raw`), with the name it is known by. */
export interface Kernel<U extends string = string> {
  name: string;
  source: string;
  /** Its uniform struct (binding 0, `params`), declared with the dispatcher and written in front of the WGSL. */
  uniforms: Uniforms<U>;
  /** Shared WGSL (kernels/common/*.wgsl) placed before `source`: helper functions, never entry points. */
  includes?: string[];
}

export interface VariantOptions {
  /** Activation precision. 'f16' needs shader-f16; the source's `act`, `act2` and `act4` aliases follow it. */
  precision?: Precision;
  /** Lines between `#if NAME` / `#else` / `#endif` are kept only when `defines[NAME]` is true. */
  defines?: Record<string, boolean>;
  /** WGSL `override` constants (workgroup sizes, tile sizes). */
  constants?: Record<string, number>;
}

/**
 * Prepended to every kernel: `act` is the type activations are stored in (f32 or f16); arithmetic is
 * written in f32 (`f32(x[i])`, `act(sum)`) so the f16 path halves memory traffic without losing the
 * accumulator's precision. Weights never use `act`: they are read as packed u32 words in both paths.
 */
function prelude(precision: Precision, subgroups: boolean): string {
  const enables = [precision === 'f16' ? 'enable f16;' : '', subgroups ? 'enable subgroups;' : ''].filter(Boolean);
  const t = precision;
  return `${enables.join('\n')}\nalias act = ${t};\nalias act2 = vec2<${t}>;\nalias act4 = vec4<${t}>;\n`;
}

/**
 * A minimal `#if NAME` / `#else` / `#endif` line preprocessor (nestable). It exists because WGSL cannot
 * even parse a subgroup builtin on a device without the feature, so such variants must be cut textually.
 */
export function preprocess(source: string, defines: Record<string, boolean>): string {
  const out: string[] = [];
  const stack: { active: boolean; taken: boolean }[] = [];
  const active = () => stack.every((s) => s.active);
  for (const line of source.split('\n')) {
    const m = /^\s*#(if|else|endif)\b\s*(!?)(\w*)/.exec(line);
    if (!m) {
      if (active()) out.push(line);
      continue;
    }
    if (m[1] === 'if') {
      const value = Boolean(defines[m[3]!]) !== (m[2] === '!');
      stack.push({ active: value, taken: value });
    } else if (m[1] === 'else') {
      const top = stack[stack.length - 1];
      if (!top) throw new Error('#else without #if');
      top.active = !top.taken;
    } else {
      if (!stack.pop()) throw new Error('#endif without #if');
    }
    out.push(''); // keep line numbers stable for compiler messages
  }
  if (stack.length) throw new Error('#if without #endif');
  return out.join('\n');
}

/** Compiles each (kernel, precision, defines, constants) variant once per device. */
export class PipelineCache {
  private readonly cache = new Map<string, GPUComputePipeline>();

  constructor(private readonly gpu: Gpu) {}

  get size(): number {
    return this.cache.size;
  }

  /** The compiled pipeline for this variant (compiled now if not cached). Errors surface at checkErrors(). */
  get<U extends string>(kernel: Kernel<U>, options: VariantOptions = {}): GPUComputePipeline {
    const precision = options.precision ?? 'f32';
    const defines: Record<string, boolean> = { ...options.defines, F16: precision === 'f16' };
    const key = `${kernel.name}|${precision}|${JSON.stringify(defines)}|${JSON.stringify(options.constants ?? {})}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    if (precision === 'f16' && !this.gpu.caps.features.shaderF16) {
      throw new UnsupportedFeatureError('shader-f16', `kernel ${kernel.name}: the f16 variant needs shader-f16, which this device lacks`);
    }
    if (defines.SUBGROUPS && !this.gpu.caps.features.subgroups) {
      throw new UnsupportedFeatureError('subgroups', `kernel ${kernel.name}: the subgroup variant needs the subgroups feature`);
    }
    let code: string;
    try {
      code = prelude(precision, Boolean(defines.SUBGROUPS)) + kernel.uniforms.wgsl + preprocess([...(kernel.includes ?? []), kernel.source].join('\n'), defines);
    } catch (e) {
      throw new ShaderCompileError(kernel.name, (e as Error).message);
    }
    const pipeline = this.gpu.scoped(() => {
      const module = this.gpu.device.createShaderModule({ code, label: kernel.name });
      return this.gpu.device.createComputePipeline({
        label: kernel.name,
        layout: 'auto',
        compute: { module, entryPoint: 'main', constants: options.constants },
      });
    });
    this.cache.set(key, pipeline);
    return pipeline;
  }

  /**
   * Compiles a variant and waits for the result, throwing ShaderCompileError with the compiler's
   * messages. Used at load time (warm-up) and by tests, so bad WGSL fails loudly and early.
   */
  async compile<U extends string>(kernel: Kernel<U>, options: VariantOptions = {}): Promise<GPUComputePipeline> {
    const pipeline = this.get(kernel, options);
    try {
      await this.gpu.checkErrors();
    } catch (e) {
      throw new ShaderCompileError(kernel.name, (e as Error).message);
    }
    return pipeline;
  }

  clear(): void {
    this.cache.clear();
  }
}
