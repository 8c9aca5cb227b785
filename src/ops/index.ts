export { copyWords } from './copy';
export { createQuantMatrix, uploadQuantMatrix, destroyQuantMatrix, type QuantMatrix } from './weights';
