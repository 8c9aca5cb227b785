import { InvalidArgumentError } from '../errors';
import { Params } from './recorder';

export type UniformType = 'u32' | 'i32' | 'f32';

/**
 * A kernel's uniform struct, declared once: from the field names and types the pipeline cache writes the
 * WGSL `struct Params` and its binding 0 (`params`) in front of the kernel, and `pack` fills the values in the
 * same order. Neither side can then drift from the other. The object's key order is the struct's field order.
 */
export class Uniforms<K extends string = string> {
  readonly wgsl: string;
  private readonly entries: [K, UniformType][];

  constructor(fields: Readonly<Record<K, UniformType>>) {
    this.entries = Object.entries(fields) as [K, UniformType][];
    if (this.entries.length === 0) throw new InvalidArgumentError('a uniform struct needs at least one field');
    const body = this.entries.map(([name, type]) => `  ${name}: ${type},`).join('\n');
    this.wgsl = `struct Params {\n${body}\n}\n@group(0) @binding(0) var<uniform> params: Params;\n`;
  }

  /** The values of one dispatch, every field given. */
  pack(values: Readonly<Record<K, number>>): Params {
    const p = new Params();
    for (const [name, type] of this.entries) {
      const v = values[name];
      if (v === undefined) throw new InvalidArgumentError(`uniform ${name} has no value`);
      p[type](v);
    }
    return p;
  }
}

export function uniforms<K extends string>(fields: Readonly<Record<K, UniformType>>): Uniforms<K> {
  return new Uniforms(fields);
}
