/**
 * The ggml tensor types inpage runs, with their block geometry (ggml/src/ggml-common.h: the block structs and
 * their static_asserts). The numeric ids are the ones GGUF tensor infos carry (enum ggml_type in ggml.h).
 */
export const GgmlType = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  IQ4_NL: 20,
  IQ4_XS: 23,
  BF16: 30,
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
  BF16: { blockValues: 1, blockBytes: 2 },
  Q4_0: { blockValues: 32, blockBytes: 18 }, // f16 d; u8 qs[16]
  Q4_1: { blockValues: 32, blockBytes: 20 }, // f16 d, m; u8 qs[16]
  Q5_0: { blockValues: 32, blockBytes: 22 }, // f16 d; u8 qh[4]; u8 qs[16]
  Q5_1: { blockValues: 32, blockBytes: 24 }, // f16 d, m; u8 qh[4]; u8 qs[16]
  Q8_0: { blockValues: 32, blockBytes: 34 }, // f16 d; i8 qs[32]
  IQ4_NL: { blockValues: 32, blockBytes: 18 }, // f16 d; u8 qs[16] (indices into kvalues_iq4nl)
  Q2_K: { blockValues: 256, blockBytes: 84 }, // u8 scales[16]; u8 qs[64]; f16 d, dmin
  Q3_K: { blockValues: 256, blockBytes: 110 }, // u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d
  Q4_K: { blockValues: 256, blockBytes: 144 }, // f16 d, dmin; u8 scales[12]; u8 qs[128]
  Q5_K: { blockValues: 256, blockBytes: 176 }, // f16 d, dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
  Q6_K: { blockValues: 256, blockBytes: 210 }, // u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d
  IQ4_XS: { blockValues: 256, blockBytes: 136 }, // f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128]
};

/** Every type inpage runs, in the order messages list them. */
export const SUPPORTED_TYPES = Object.keys(BLOCK_LAYOUT) as GgmlTypeName[];

/** All ggml type ids with their names, including ones we reject, so errors can name what was found. */
export const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K',
  11: 'Q3_K', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS',
  19: 'IQ1_S', 20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32',
  27: 'I64', 28: 'F64', 29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4', 40: 'NVFP4',
  41: 'Q1_0', 42: 'Q2_0',
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
