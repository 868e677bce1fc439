// One BasicTransformerBlock with merge/unmerge wraps against a plain TypeScript reference of
// tomesd's placement: x = u(attn1(m(norm1(x)))) + x, then attn2, then ff, each with its own wrap.
import t from 'tap';
import { testRuntime } from '../support/runtime.js';
import { maxRelError, seededValues } from '../support/compare.js';
import type { Tensor } from '../../runtime/tensor.js';
import { matmul } from '../../kernels/matmul.js';
import { add } from '../../kernels/binary.js';
import { unmergeTokens } from '../../kernels/merge-unmerge.js';
import { TransformerBlock } from '../../unet/transformer-block.js';
import { UNetWeights } from '../../unet/weights.js';
import type { BlockPlan } from '../../unet/hooks.js';

const B = 2;
const N = 12; // a 4×3 token grid
const C = 16;
const HEADS = 2;
const L = 5;
const D = 12;
const F = 4 * C;
const EPS = 1e-5;

type Host = Float32Array;

function layerNorm(x: Host, g: Host, b: Host): Host {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    const row = x.subarray(r * C, (r + 1) * C);
    const mean = row.reduce((s, v) => s + v, 0) / C;
    const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / C;
    for (let c = 0; c < C; c++) out[r * C + c] = ((row[c]! - mean) / Math.sqrt(variance + EPS)) * g[c]! + b[c]!;
  }
  return out;
}

/** x [R, K] · Wᵀ (W [N, K]) + bias */
function linear(x: Host, w: Host, n: number, bias?: Host): Host {
  const k = w.length / n;
  const rows = x.length / k;
  const out = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j]! : 0;
      for (let i = 0; i < k; i++) s += x[r * k + i]! * w[j * k + i]!;
      out[r * n + j] = s;
    }
  }
  return out;
}

function attention(q: Host, k: Host, v: Host, nq: number, nk: number): Host {
  const d = C / HEADS;
  const out = new Float32Array(B * nq * C);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < HEADS; h++) {
      for (let i = 0; i < nq; i++) {
        const scores = Array.from({ length: nk }, (_, j) => {
          let s = 0;
          for (let e = 0; e < d; e++) s += q[(b * nq + i) * C + h * d + e]! * k[(b * nk + j) * C + h * d + e]!;
          return s / Math.sqrt(d);
        });
        const max = Math.max(...scores);
        const p = scores.map((s) => Math.exp(s - max));
        const sum = p.reduce((a, x) => a + x, 0);
        for (let e = 0; e < d; e++) {
          let acc = 0;
          for (let j = 0; j < nk; j++) acc += (p[j]! / sum) * v[(b * nk + j) * C + h * d + e]!;
          out[(b * nq + i) * C + h * d + e] = acc;
        }
      }
    }
  }
  return out;
}

function erf(x: number): number {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

function geglu(x: Host): Host {
  const rows = x.length / (2 * F);
  const out = new Float32Array(rows * F);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < F; j++) {
      const gate = x[r * 2 * F + F + j]!;
      out[r * F + j] = x[r * 2 * F + j]! * 0.5 * gate * (1 + erf(gate / Math.SQRT2));
    }
  }
  return out;
}

/** Applies m [rows, n] to every batch row of x [B, n, C]. */
function mapTokens(m: Host, rows: number, x: Host): Host {
  const n = m.length / rows;
  const out = new Float32Array(B * rows * C);
  for (let b = 0; b < B; b++) {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < n; j++) {
        const f = m[r * n + j]!;
        if (f === 0) continue;
        for (let c = 0; c < C; c++) out[(b * rows + r) * C + c]! += f * x[(b * n + j) * C + c]!;
      }
    }
  }
  return out;
}

const addHost = (a: Host, b: Host): Host => a.map((v, i) => v + b[i]!);

t.test('a wrapped BasicTransformerBlock computes x = u(s(m(norm(x)))) + x per sublayer', async (t) => {
  const rt = await testRuntime();
  const name = 'blk';
  const shapes: [string, number[]][] = [
    ['norm1.weight', [C]], ['norm1.bias', [C]], ['norm2.weight', [C]], ['norm2.bias', [C]], ['norm3.weight', [C]], ['norm3.bias', [C]],
    ['attn1.to_q.weight', [C, C]], ['attn1.to_k.weight', [C, C]], ['attn1.to_v.weight', [C, C]], ['attn1.to_out.0.weight', [C, C]], ['attn1.to_out.0.bias', [C]],
    ['attn2.to_q.weight', [C, C]], ['attn2.to_k.weight', [C, D]], ['attn2.to_v.weight', [C, D]], ['attn2.to_out.0.weight', [C, C]], ['attn2.to_out.0.bias', [C]],
    ['ff.net.0.proj.weight', [2 * F, C]], ['ff.net.0.proj.bias', [2 * F]], ['ff.net.2.weight', [C, F]], ['ff.net.2.bias', [C]],
  ];
  const host = new Map<string, Host>();
  const gpu = new Map<string, Tensor>();
  shapes.forEach(([key, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = key.startsWith('norm') && key.endsWith('weight') ? seededValues(n, 100 + i, 0.5, 1.5) : seededValues(n, 100 + i, -0.4, 0.4);
    host.set(key, values);
    gpu.set(`${name}.${key}`, rt.upload(values, shape, 'f32'));
  });
  const block = new TransformerBlock(rt, name, C, HEADS, new UNetWeights(gpu, 'f32'));
  const w = (key: string) => host.get(key)!;

  const xHost = seededValues(B * N * C, 1, -2, 2);
  const ctxHost = seededValues(B * L * D, 2);
  const x = rt.upload(xHost, [B, N, C], 'f32');
  const context = rt.upload(ctxHost, [B, L, D], 'f32');

  // merge: average neighbouring token pairs (N → N/2); unmerge: copy back; kv: average of 3 (N → N/3)
  const pairs = new Float32Array((N / 2) * N);
  for (let r = 0; r < N / 2; r++) pairs[r * N + 2 * r] = pairs[r * N + 2 * r + 1] = 0.5;
  const spread = new Float32Array(N * (N / 2));
  for (let r = 0; r < N; r++) spread[r * (N / 2) + Math.floor(r / 2)] = 1;
  const thirds = new Float32Array((N / 3) * N);
  for (let r = 0; r < N / 3; r++) for (let j = 0; j < 3; j++) thirds[r * N + 3 * r + j] = 1 / 3;
  const m = rt.upload(pairs, [N / 2, N], 'f32');
  const u = rt.upload(spread, [N, N / 2], 'f32');
  const kv = rt.upload(thirds, [N / 3, N], 'f32');
  const merge = (x: Tensor) => matmul(rt, m, x);
  const unmerge = (y: Tensor) => matmul(rt, u, y);
  // the same pairs at a fixed capacity (CA-ToMe's layout): N rows, the first N/2 real, the rest
  // large finite garbage; the real count on the GPU; a gather unmerge that reads only real rows
  const capacity = new Float32Array(N * N);
  capacity.set(pairs);
  for (let e = pairs.length; e < capacity.length; e++) capacity[e] = 50 * Math.sin(e);
  const mCap = rt.upload(capacity, [N, N], 'f32');
  const count = rt.upload(Uint32Array.from([0, N / 2]), [2], 'u32');
  const positions = rt.upload(Uint32Array.from({ length: B * N }, (_, i) => Math.floor((i % N) / 2)), [B, N], 'u32');
  const capacityWrap = {
    merge: (x: Tensor) => matmul(rt, mCap, x),
    unmerge: (y: Tensor) => unmergeTokens(rt, y, positions),
    validTokens: { tensor: count, index: 1 },
  };

  type HostMap = ((x: Host) => Host) | null;
  const hostMerge = (x: Host) => mapTokens(pairs, N / 2, x);
  const hostUnmerge = (y: Host) => mapTokens(spread, N, y);
  const hostKv = (x: Host) => mapTokens(thirds, N / 3, x);

  const reference = (a1: [HostMap, HostMap, HostMap], a2: [HostMap, HostMap], ff: [HostMap, HostMap]): Host => {
    const id = (v: Host) => v;
    // attn1
    const n1 = layerNorm(xHost, w('norm1.weight'), w('norm1.bias'));
    const q1in = (a1[0] ?? id)(n1);
    const kv1in = a1[2] ? a1[2](n1) : q1in;
    const nq1 = q1in.length / (B * C);
    const nk1 = kv1in.length / (B * C);
    const o1 = attention(linear(q1in, w('attn1.to_q.weight'), C), linear(kv1in, w('attn1.to_k.weight'), C), linear(kv1in, w('attn1.to_v.weight'), C), nq1, nk1);
    const h1 = addHost((a1[1] ?? id)(linear(o1, w('attn1.to_out.0.weight'), C, w('attn1.to_out.0.bias'))), xHost);
    // attn2
    const n2 = (a2[0] ?? id)(layerNorm(h1, w('norm2.weight'), w('norm2.bias')));
    const o2 = attention(linear(n2, w('attn2.to_q.weight'), C), linear(ctxHost, w('attn2.to_k.weight'), C), linear(ctxHost, w('attn2.to_v.weight'), C), n2.length / (B * C), L);
    const h2 = addHost((a2[1] ?? id)(linear(o2, w('attn2.to_out.0.weight'), C, w('attn2.to_out.0.bias'))), h1);
    // ff
    const n3 = (ff[0] ?? id)(layerNorm(h2, w('norm3.weight'), w('norm3.bias')));
    const f = linear(geglu(linear(n3, w('ff.net.0.proj.weight'), 2 * F, w('ff.net.0.proj.bias'))), w('ff.net.2.weight'), C, w('ff.net.2.bias'));
    return addHost((ff[1] ?? id)(f), h2);
  };

  const cases: { label: string; plan: BlockPlan | undefined; want: Host }[] = [
    { label: 'unwrapped', plan: undefined, want: reference([null, null, null], [null, null], [null, null]) },
    {
      label: 'tomesd: attn1 and ff merged (ff with fused unmergeAdd)',
      plan: { attn1: { merge, unmerge }, ff: { merge, unmergeAdd: (y, r) => add(rt, unmerge(y), r) } },
      want: reference([hostMerge, hostUnmerge, null], [null, null], [hostMerge, hostUnmerge]),
    },
    {
      label: 'merged queries and separately reduced keys/values in attn1, attn2 merged',
      plan: { attn1: { merge, unmerge, keyValues: (x) => matmul(rt, kv, x) }, attn2: { merge, unmerge } },
      want: reference([hostMerge, hostUnmerge, hostKv], [hostMerge, hostUnmerge], [null, null]),
    },
    {
      label: 'ToDo-style: full queries, reduced keys/values',
      plan: { attn1: { keyValues: (x) => matmul(rt, kv, x) } },
      want: reference([null, null, hostKv], [null, null], [null, null]),
    },
    {
      label: 'fixed capacity with a GPU token count around every sublayer',
      plan: { attn1: capacityWrap, attn2: capacityWrap, ff: capacityWrap },
      want: reference([hostMerge, hostUnmerge, null], [hostMerge, hostUnmerge], [hostMerge, hostUnmerge]),
    },
  ];
  for (const { label, plan, want } of cases) {
    const out = rt.tidy(() => block.forward(x, context, plan));
    const err = maxRelError(await rt.read(out), want);
    t.ok(err <= 1e-5, `${label}: max rel error ${err.toExponential(2)}`);
    out.dispose();
  }

  t.throws(() => block.forward(x, context, { attn2: { keyValues: (v) => v } }), /keyValues is only for self-attention/);
  t.throws(() => block.forward(x, context, { ff: { merge } }), /no unmerge/);
  t.throws(() => block.forward(x, context, { ff: { merge, unmerge: (y) => y } }), /unmerge: returned/);
  t.throws(() => block.forward(x, context, { attn1: { merge: capacityWrap.merge, validTokens: capacityWrap.validTokens } }), /validTokens needs an unmerge/);
  for (const tensor of [x, context, m, u, kv, mCap, count, positions, ...gpu.values()]) tensor.dispose();
});
