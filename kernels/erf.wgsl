// erf(x) in f32 with absolute error below 5e-7, for GELU (WGSL has no erf). A plain snippet with
// no prelude needs: prepend it to any kernel (matmul epilogues too) and call erf_f32.
// |x| < 0.5: Maclaurin series to x^13 (truncation < 1e-9, and relative accuracy kept near 0).
// Otherwise Abramowitz & Stegun 7.1.26, 1 - t·P(t)·exp(-x²) with t = 1/(1 + p|x|) (error <= 1.5e-7).
fn erf_f32(x: f32) -> f32 {
  let a = abs(x);
  let x2 = x * x;
  let series = x * (1.1283791671 + x2 * (-0.37612638903 + x2 * (0.11283791671 + x2 * (-0.026866170645
    + x2 * (0.0052239776254 + x2 * (-0.00085483270235 + x2 * 0.00012055332982))))));
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let tail = sign(x) * (1.0 - poly * exp(-x2));
  return select(tail, series, a < 0.5);
}
