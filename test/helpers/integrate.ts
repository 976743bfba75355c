/**
 * Adaptive Gauss–Kronrod (7/15) quadrature, written independently of src/huber so that tests can check
 * closed forms against direct integration.
 */

// The published 7/15-point nodes and weights, digit for digit; doubles round them as they must.
/* eslint-disable no-loss-of-precision */
const XGK = [
  0.991455371120812639206854697526329, 0.949107912342758524526189684047851, 0.864864423359769072789712788640926,
  0.741531185599394439863864773280788, 0.58608723546769113029414483825873, 0.405845151377397166906606412076961,
  0.207784955007898467600689403773245, 0,
];
const WGK = [
  0.02293532201052922496373200805897, 0.063092092629978553290700663189204, 0.104790010322250183839876322541518,
  0.140653259715525918745189590510238, 0.16900472663926790282658342659855, 0.190350578064785409913256402421014,
  0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
];
const WG = [
  0.129484966168869693270611432679082, 0.27970539148927666790146777142378, 0.381830050505118944950369775488975,
  0.417959183673469387755102040816327,
];
/* eslint-enable no-loss-of-precision */

function gk15(f: (x: number) => number, a: number, b: number): { value: number; error: number } {
  const center = 0.5 * (a + b);
  const half = 0.5 * (b - a);
  const fc = f(center);
  let kronrod = fc * WGK[7]!;
  let gauss = fc * WG[3]!;
  for (let j = 0; j < 7; j++) {
    const dx = half * XGK[j]!;
    const sum = f(center - dx) + f(center + dx);
    kronrod += WGK[j]! * sum;
    if (j % 2 === 1) gauss += WG[(j - 1) / 2]! * sum;
  }
  return { value: kronrod * half, error: Math.abs((kronrod - gauss) * half) };
}

/** ∫_a^b f with absolute or relative error target, by recursive bisection of the worst pieces. */
export function integrate(f: (x: number) => number, a: number, b: number, relTol = 1e-13, absTol = 0): number {
  const recurse = (lo: number, hi: number, depth: number, whole: { value: number; error: number }): number => {
    const mid = 0.5 * (lo + hi);
    const left = gk15(f, lo, mid);
    const right = gk15(f, mid, hi);
    const value = left.value + right.value;
    const error = left.error + right.error;
    if (
      depth >= 40 ||
      error <= Math.max(absTol, relTol * Math.abs(value)) ||
      Math.abs(value - whole.value) <= 1e-16 * Math.abs(value)
    ) {
      return value;
    }
    return recurse(lo, mid, depth + 1, left) + recurse(mid, hi, depth + 1, right);
  };
  return recurse(a, b, 0, gk15(f, a, b));
}

/** Adaptive Simpson, used as a second, structurally different integrator for spot checks. */
export function simpson(f: (x: number) => number, a: number, b: number, tol = 1e-12): number {
  const step = (
    lo: number,
    hi: number,
    flo: number,
    fmid: number,
    fhi: number,
    whole: number,
    eps: number,
    depth: number,
  ): number => {
    const mid = 0.5 * (lo + hi);
    const lm = 0.5 * (lo + mid);
    const rm = 0.5 * (mid + hi);
    const flm = f(lm);
    const frm = f(rm);
    const left = ((mid - lo) / 6) * (flo + 4 * flm + fmid);
    const right = ((hi - mid) / 6) * (fmid + 4 * frm + fhi);
    if (depth > 50 || Math.abs(left + right - whole) <= 15 * eps) return left + right + (left + right - whole) / 15;
    return step(lo, mid, flo, flm, fmid, left, eps / 2, depth + 1) + step(mid, hi, fmid, frm, fhi, right, eps / 2, depth + 1);
  };
  const fa = f(a);
  const fb = f(b);
  const fm = f(0.5 * (a + b));
  return step(a, b, fa, fm, fb, ((b - a) / 6) * (fa + 4 * fm + fb), tol, 0);
}
