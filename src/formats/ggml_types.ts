/**
 * The ggml tensor types inpage runs, with their block geometry (ggml/src/ggml-common.h). The numeric ids are
 * the ones GGUF tensor infos carry.
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q8_0: 8,
  Q4_K: 12,
  Q6_K: 14,
} as const;
export type GgmlTypeName = keyof typeof GgmlType;

export interface BlockLayout {
  /** Values per block. */
  blockValues: number;
  /** Bytes per block. */
  blockBytes: number;
}

export const BLOCK_LAYOUT: Record<GgmlTypeName, BlockLayout> = {
  F32: { blockValues: 1, blockBytes: 4 },
  F16: { blockValues: 1, blockBytes: 2 },
  Q4_0: { blockValues: 32, blockBytes: 18 },
  Q8_0: { blockValues: 32, blockBytes: 34 },
  Q4_K: { blockValues: 256, blockBytes: 144 },
  Q6_K: { blockValues: 256, blockBytes: 210 },
};

/** All ggml type ids with their names, including ones we reject, so errors can name what was found. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K',
  11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS',
  19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16',
};

export function typeName(id: number): GgmlTypeName | undefined {
  const name = GGML_TYPE_NAMES[id];
  return name !== undefined && name in BLOCK_LAYOUT ? (name as GgmlTypeName) : undefined;
}

/** Bytes of one row of `cols` values; throws if cols is not a whole number of blocks. */
export function rowBytes(type: GgmlTypeName, cols: number): number {
  const { blockValues, blockBytes } = BLOCK_LAYOUT[type];
  if (cols % blockValues !== 0) {
    throw new RangeError(`a ${type} row must hold a multiple of ${blockValues} values, got ${cols}`);
  }
  return (cols / blockValues) * blockBytes;
}
