// One dispatcher per kernel family. Each validates shapes, picks the variant for the adapter, and records.
export { copyWords } from './copy';
export { createQuantMatrix, uploadQuantMatrix, destroyQuantMatrix, type QuantMatrix } from './weights';
export { matvec, matvecVariant, type MatvecArgs } from './matvec';
export { matmul, type MatmulArgs } from './matmul';
export { attentionPrefill, attentionDecode } from './attention';
export { rmsNorm } from './norm';
export { rope, type RopeLayout } from './rope';
export { siluMul, add } from './activation';
export { embeddingLookup, uploadTokenIds } from './embedding';
export { softmax } from './softmax';
export { argmax, topK, TOP_K_MAX } from './sampling';
export { adjustLogits, packAdjustments, logSumExp, logSumExpScratchBytes } from './logits';
