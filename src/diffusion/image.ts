/**
 * The generated image: the VAE's [1, 3, H, W] output in about [-1, 1] turned into RGBA bytes the way
 * diffusers' image processor does (x/2 + 0.5, clamped to [0, 1], ×255 rounded), and a PNG of it.
 *
 * PNG: OffscreenCanvas.convertToBlob where it exists (pages and workers in browsers); elsewhere (Node, or a
 * browser without OffscreenCanvas) a small encoder here: one IDAT of filter-0 rows, zlib-deflated by
 * CompressionStream('deflate') (Node ≥ 18, all current browsers), or stored (uncompressed deflate blocks)
 * where even that is missing.
 */
import { InvalidArgumentError } from '../errors';
import type { FloatTensor } from './components';

export interface GeneratedImage {
  readonly width: number;
  readonly height: number;
  /** RGBA, row-major, 4 bytes per pixel (an ImageData's layout: `new ImageData(data, width, height)`). */
  readonly data: Uint8ClampedArray;
  /** The image as a PNG file. */
  toBlob(): Promise<Blob>;
}

/** [1, 3, H, W] in [-1, 1] → RGBA bytes. */
export function tensorToRgba(t: FloatTensor): { width: number; height: number; data: Uint8ClampedArray } {
  const [n, c, height, width] = t.dims as [number, number, number, number];
  if (t.dims.length !== 4 || n < 1 || c !== 3) throw new InvalidArgumentError(`expected a [1, 3, H, W] image tensor, got [${t.dims}]`);
  const plane = width * height;
  const data = new Uint8ClampedArray(plane * 4);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      const v = t.data[ch * plane + i]! / 2 + 0.5;
      data[i * 4 + ch] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
    data[i * 4 + 3] = 255;
  }
  return { width, height, data };
}

export function makeImage(width: number, height: number, data: Uint8ClampedArray): GeneratedImage {
  return { width, height, data, toBlob: () => encodePng(width, height, data) };
}

/** A PNG Blob of RGBA pixels. */
export async function encodePng(width: number, height: number, rgba: Uint8ClampedArray | Uint8Array): Promise<Blob> {
  if (typeof OffscreenCanvas !== 'undefined' && typeof ImageData !== 'undefined') {
    try {
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d');
      if (ctx) {
        ctx.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
        return await canvas.convertToBlob({ type: 'image/png' });
      }
    } catch {
      // fall through to our encoder
    }
  }
  return new Blob([(await pngBytes(width, height, rgba)) as Uint8Array<ArrayBuffer>], { type: 'image/png' });
}

/** PNG file bytes (8-bit RGBA, no interlace) from our own encoder. */
export async function pngBytes(width: number, height: number, rgba: Uint8ClampedArray | Uint8Array): Promise<Uint8Array> {
  const stride = width * 4;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = 0; // filter: none
    raw.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr.set([8, 6, 0, 0, 0], 8); // bit depth 8, colour type RGBA, deflate, filter 0, no interlace
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', await zlib(raw)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function zlib(data: Uint8Array): Promise<Uint8Array> {
  if (typeof CompressionStream !== 'undefined') {
    const stream = new Blob([data as BlobPart]).stream().pipeThrough(new CompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  return storedZlib(data);
}

/** zlib stream of stored (uncompressed) deflate blocks, with its Adler-32. */
function storedZlib(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, data.length - start);
    out[at++] = b === blocks - 1 ? 1 : 0;
    out[at++] = len & 0xff;
    out[at++] = len >> 8;
    out[at++] = ~len & 0xff;
    out[at++] = (~len >> 8) & 0xff;
    out.set(data.subarray(start, start + len), at);
    at += len;
  }
  let a = 1;
  let s = 0;
  for (let i = 0; i < data.length; i++) {
    a = (a + data[i]!) % 65521;
    s = (s + a) % 65521;
  }
  new DataView(out.buffer).setUint32(at, ((s << 16) | a) >>> 0);
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  dv.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}
