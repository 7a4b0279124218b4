import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { checkGradients } from './grad-check.js';
import type { Tensor } from './index.js';
import {
  add,
  attention,
  selfAttention,
  matmul,
  mul,
  randn,
  reshape,
  slice,
  softmax,
  tensor,
  transpose,
} from './index.js';

/** The same attention written with unfused ops, as the reference. */
function reference(q: Tensor, k: Tensor, v: Tensor, heads: number, causal: boolean): Tensor {
  const [b, tq, c] = q.shape as [number, number, number];
  const tk = k.shape[1];
  const d = c / heads;
  const split = (x: Tensor): Tensor => transpose(reshape(x, [0, 0, heads, d]), [0, 2, 1, 3]);
  let s = mul(matmul(split(q), split(k), { transB: true }), 1 / Math.sqrt(d));
  if (causal) {
    const m = new Float32Array(tq * tk);
    for (let i = 0; i < tq; i++) for (let j = i + 1; j < tk; j++) m[i * tk + j] = -1e9;
    s = add(s, tensor(m, [tq, tk]));
  }
  const o = matmul(softmax(s), split(v));
  return reshape(transpose(o, [0, 2, 1, 3]), [b, tq, c]);
}

function close(a: Tensor, b: Tensor, tol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.toArray();
  const y = b.toArray();
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i] - y[i])).toBeLessThan(tol);
}

describe('attention', () => {
  const rng = new Random(11);
  const q = randn([2, 5, 8], rng).asParameter();
  const k = randn([2, 5, 8], rng).asParameter();
  const v = randn([2, 5, 8], rng).asParameter();

  it('equals the unfused computation, causal and not', () => {
    close(attention(q, k, v, { heads: 2, causal: true }), reference(q, k, v, 2, true));
    close(attention(q, k, v, { heads: 4 }), reference(q, k, v, 4, false));
  });

  it('lets position 0 see only itself when causal', () => {
    const out = attention(q, k, v, { heads: 2, causal: true });
    // With one visible key, the output row is that key's value row.
    expect(
      out
        .toArray()
        .slice(0, 8)
        .map((x) => x.toFixed(5)),
    ).toEqual(
      v
        .toArray()
        .slice(0, 8)
        .map((x) => x.toFixed(5)),
    );
  });

  it('has gradients that match central differences', () => {
    const r = checkGradients((a, b, c) => attention(a, b, c, { heads: 2, causal: true }), [q, k, v]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const kv = randn([2, 3, 8], rng).asParameter();
    const cross = checkGradients((a, b) => attention(a, b, b, { heads: 2 }), [q, kv]);
    expect(cross.ok, JSON.stringify(cross)).toBe(true);
  });

  it('applies an additive mask', () => {
    const mask = tensor([0, 0, 0, -1e9, -1e9], [5]);
    const masked = attention(q, k, v, { heads: 2, mask });
    // Dropping keys 3 and 4 by the mask equals attending over the first three keys only.
    const kept = attention(q, slice(k, 1, 0, 3), slice(v, 1, 0, 3), { heads: 2 });
    close(masked, kept);
  });

  it('on a packed qkv equals attention on its three slices, with matching gradients', () => {
    const qkv = randn([2, 5, 24], rng).asParameter();
    const parts = [0, 1, 2].map((i) => slice(qkv, 2, 8 * i, 8 * (i + 1)));
    close(
      selfAttention(qkv, { heads: 2, causal: true }),
      attention(parts[0], parts[1], parts[2], { heads: 2, causal: true }),
    );
    const r = checkGradients((x) => selfAttention(x, { heads: 4, causal: true }), [qkv]);
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('decodes with a key/value cache exactly as a full causal pass', () => {
    // Full pass over 5 positions, then the same positions fed as a prefix of 3 and single steps with
    // the keys and values seen so far: every query row must match the full pass.
    const full = attention(q, k, v, { heads: 2, causal: true });
    const rows = (x: Tensor, from: number, to: number): Tensor => slice(x, 1, from, to);
    const prefix = attention(rows(q, 0, 3), rows(k, 0, 3), rows(v, 0, 3), { heads: 2, causal: true });
    close(prefix, rows(full, 0, 3));
    for (const t of [3, 4]) {
      // Default offset: the queries are the last positions of the keys.
      const step = attention(rows(q, t, t + 1), rows(k, 0, t + 1), rows(v, 0, t + 1), {
        heads: 2,
        causal: true,
      });
      close(step, rows(full, t, t + 1));
      // Explicit offset into a cache preallocated for all 5 positions: later keys are masked.
      const cached = attention(rows(q, t, t + 1), k, v, { heads: 2, causal: true, offset: t });
      close(cached, rows(full, t, t + 1));
    }
    // Two queries at once at positions 2..3 of a 5-key cache.
    const pair = attention(rows(q, 2, 4), k, v, { heads: 2, causal: true, offset: 2 });
    close(pair, rows(full, 2, 4));
  });

  it('has gradients through an offset causal mask', () => {
    const q2 = randn([2, 2, 8], rng).asParameter();
    const r = checkGradients(
      (a, b, c) => attention(a, b, c, { heads: 2, causal: true, offset: 1 }),
      [q2, k, v],
    );
    expect(r.ok, JSON.stringify(r)).toBe(true);
  });

  it('rejects an offset that puts queries outside the keys', () => {
    expect(() => attention(q, k, v, { heads: 2, causal: true, offset: 1 })).toThrow(
      /0 <= `offset` <= keys - queries \(5 - 5\), got 1/,
    );
    expect(() => attention(slice(q, 1, 0, 3), k, v, { heads: 2, causal: true, offset: 3 })).toThrow(/got 3/);
    expect(() => attention(q, k, v, { heads: 2, offset: 0 })).toThrow(/only with `causal: true`/);
  });

  it('rejects a width that the heads do not divide', () => {
    expect(() => attention(q, k, v, { heads: 3 })).toThrow(/positive divisor of the width 8/);
  });
});
