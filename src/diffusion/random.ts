/**
 * Seeded randomness for diffusion: the initial latent noise and the per-step noise of ancestral and LCM
 * schedulers. The same seed gives the same latents in every browser and in Node, bit for bit.
 *
 * Why not Math.random or Math.log/Math.cos: ECMAScript lets engines approximate Math.log, Math.sin,
 * Math.cos, … (only +, -, *, / and Math.sqrt are exactly rounded by IEEE 754). So the uniform generator
 * uses 32-bit integer arithmetic only, and the Gaussian transform uses our own logarithm built from
 * exactly rounded operations. The Gaussian is the polar form of Box–Muller (Marsaglia), which needs a
 * logarithm and a square root but no trigonometry.
 *
 * The numbers are NOT those of torch.randn for the same seed (torch uses Mersenne Twister + its own
 * transform); reproducing a PyTorch image seed-for-seed is out of scope.
 */

/** A source of standard normal samples: what schedulers and the pipeline take. */
export interface GaussianSource {
  /** One N(0, 1) sample. */
  next(): number;
  /** Fills `out` with N(0, 1) samples (scaled by `std`) and returns it. */
  fill(out: Float32Array, std?: number): Float32Array;
}

/** splitmix32: spreads a seed over the generator state so nearby seeds give unrelated streams. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) >>> 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return [s, (z ^ (z >>> 16)) >>> 0];
}

/** xoshiro128**: a small, fast, well-tested 32-bit generator (period 2^128 - 1). */
export class Xoshiro128 {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any safe integer (negative and values above 2^32 are folded in, not truncated away). */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    let st = (lo ^ Math.imul(hi, 0x27d4eb2d)) >>> 0;
    const out: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [ns, v] = splitmix32(st);
      st = ns;
      out.push(v);
    }
    [this.s0, this.s1, this.s2, this.s3] = out as [number, number, number, number];
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  /** A generator at an explicit state (for test vectors of the published algorithm). */
  static fromState(state: readonly [number, number, number, number]): Xoshiro128 {
    const g = new Xoshiro128(0);
    [g.s0, g.s1, g.s2, g.s3] = state.map((v) => v >>> 0) as [number, number, number, number];
    return g;
  }

  /** Next 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const LN2 = 0.6931471805599453;
const SQRT1_2 = 0.7071067811865476;
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
// Which 32-bit half holds the exponent depends on the platform's byte order.
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * Natural logarithm of a positive normal double using only exactly rounded operations, so it returns
 * the same bits everywhere: x = m·2^e with m in [√½, √2), ln m = 2·atanh(s), s = (m-1)/(m+1), |s| < 0.172,
 * summed with a fixed number of terms (error below 1e-16 relative).
 */
export function portableLog(x: number): number {
  if (!(x > 0) || x === Infinity) throw new RangeError(`portableLog needs a finite positive number, got ${x}`);
  f64[0] = x;
  let e = ((u32[HI]! >>> 20) & 0x7ff) - 1023;
  if (e === -1023) throw new RangeError('portableLog: subnormal input'); // never produced by our callers
  u32[HI] = (u32[HI]! & 0x800fffff) | (1023 << 20); // mantissa scaled into [1, 2)
  let m = f64[0];
  if (m > 2 * SQRT1_2) {
    m /= 2;
    e += 1;
  }
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  // atanh(s)/s = Σ s^(2k)/(2k+1); 12 terms: s2^12 < 5e-19.
  let sum = 0;
  for (let k = 12; k >= 1; k--) sum = sum * s2 + 1 / (2 * k + 1);
  sum = sum * s2 + 1;
  return e * LN2 + 2 * s * sum;
}

/** Seeded standard-normal generator (polar Box–Muller over xoshiro128**). */
export class SeededGaussian implements GaussianSource {
  private readonly uniform: Xoshiro128;
  private spare: number | null = null;

  constructor(seed: number) {
    this.uniform = new Xoshiro128(seed);
  }

  next(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    for (;;) {
      const u = 2 * this.uniform.nextFloat() - 1;
      const v = 2 * this.uniform.nextFloat() - 1;
      const s = u * u + v * v;
      // s below 2^-1000 would only matter for the subnormal guard; such draws are rejected like s >= 1.
      if (s >= 1 || s < 1e-300) continue;
      const f = Math.sqrt((-2 * portableLog(s)) / s);
      this.spare = v * f;
      return u * f;
    }
  }

  fill(out: Float32Array, std = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.next() * std;
    return out;
  }
}

/** Convenience: `n` Gaussian samples from `seed` (the pipeline's initial latents use this). */
export function randn(n: number, seed: number, std = 1): Float32Array {
  return new SeededGaussian(seed).fill(new Float32Array(n), std);
}
