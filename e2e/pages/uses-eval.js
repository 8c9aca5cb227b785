// Negative control for the CSP check: this module uses `new Function`, which the e2e pages' policy
// (no 'unsafe-eval') must refuse. If it ever runs, the CSP test would not be testing anything.
export function evaluate() {
  return new Function('return 42')();
}
