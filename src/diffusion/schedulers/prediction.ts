/** Converting a model output into the predicted clean sample x̂_0, per prediction_type. */
import type { PredictionType } from './config';

/**
 * σ-parameterisation (Euler family): x = x_0 + σ·ε in "x/√ᾱ" units.
 * v-prediction: v = α·ε - σ_t·x_0 in VP units; with α = 1/√(σ²+1) this gives x̂_0 = x/(σ²+1) - v·σ/√(σ²+1).
 */
export function predictX0Sigma(type: PredictionType, out: number, x: number, sigma: number): number {
  switch (type) {
    case 'epsilon':
      return x - sigma * out;
    case 'v_prediction':
      return out * (-sigma / Math.sqrt(sigma * sigma + 1)) + x / (sigma * sigma + 1);
    case 'sample':
      return out;
  }
}

/** VP parameterisation (DDIM, LCM, DPM-Solver): x_t = √ᾱ·x_0 + √(1-ᾱ)·ε, with a = √ᾱ and s = √(1-ᾱ). */
export function predictX0Vp(type: PredictionType, out: number, x: number, a: number, s: number): number {
  switch (type) {
    case 'epsilon':
      return (x - s * out) / a;
    case 'v_prediction':
      return a * x - s * out;
    case 'sample':
      return out;
  }
}

/** The matching ε̂ in the VP parameterisation (DDIM needs both). */
export function predictEpsVp(type: PredictionType, out: number, x: number, a: number, s: number): number {
  switch (type) {
    case 'epsilon':
      return out;
    case 'v_prediction':
      return a * out + s * x;
    case 'sample':
      return (x - a * out) / s;
  }
}
