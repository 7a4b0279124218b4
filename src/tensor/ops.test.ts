import { describe, expect, it } from 'vitest';
import { Random } from '../core/index.js';
import { checkGradients } from './grad-check.js';
import type { Tensor } from './index.js';
import {
  add,
  boolTensor,
  concat,
  crossEntropy,
  div,
  dropout,
  exp,
  gather,
  gelu,
  layerNorm,
  linear,
  log,
  logSoftmax,
  matmul,
  max,
  maskedFill,
  mean,
  mse,
  mul,
  neg,
  parameter,
  pow,
  profileKernels,
  randn,
  relu,
  reshape,
  rmsNorm,
  sigmoid,
  slice,
  softmax,
  softplus,
  sqrt,
  sub,
  sum,
  tanh,
  tensor,
  transpose,
  where,
} from './index.js';

function p(shape: number[], seed: number, offset = 0): Tensor {
  const t = randn(shape, new Random(seed));
  if (offset !== 0) for (let i = 0; i < t.size; i++) t.data[i] = Math.abs(t.data[i]) + offset;
  return t.asParameter();
}

function expectGradOk(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], eps?: number): void {
  const result = checkGradients(fn, inputs, eps === undefined ? {} : { eps });
  expect(result.worst === null || result.ok, JSON.stringify(result)).toBe(true);
  expect(result.ok, JSON.stringify(result)).toBe(true);
}

describe('gradients match central differences', () => {
  it('for add, sub, mul and div with broadcasting', () => {
    expectGradOk(add, [p([2, 3, 4], 1), p([3, 1], 2)]);
    expectGradOk(sub, [p([4], 3), p([2, 3, 4], 4)]);
    expectGradOk(mul, [p([2, 3, 4], 5), p([1, 3, 1], 6)]);
    expectGradOk(div, [p([2, 3], 7), p([3], 8, 0.5)]);
    expectGradOk((a) => mul(add(a, 2), 3), [p([3, 2], 9)]);
  });

  it('for the unary functions', () => {
    expectGradOk(exp, [p([2, 5], 10)]);
    expectGradOk(log, [p([2, 5], 11, 0.5)]);
    expectGradOk(sqrt, [p([2, 5], 12, 0.5)]);
    expectGradOk((x) => pow(x, 3), [p([6], 13)]);
    expectGradOk(tanh, [p([2, 5], 14)]);
    expectGradOk(sigmoid, [p([2, 5], 15)]);
    expectGradOk(softplus, [p([2, 5], 16)]);
    expectGradOk(gelu, [p([2, 5], 17)]);
    expectGradOk(neg, [p([3], 18)]);
    // Keep values away from relu's kink so that the finite difference is well defined.
    const x = p([8], 19);
    for (let i = 0; i < x.size; i++) x.data[i] = (i % 2 ? 1 : -1) * (0.1 + Math.abs(x.data[i]));
    expectGradOk(relu, [x]);
  });

  it('for matmul in every transpose combination and with batches', () => {
    expectGradOk((a, b) => matmul(a, b), [p([3, 4], 20), p([4, 5], 21)]);
    expectGradOk((a, b) => matmul(a, b, { transA: true }), [p([4, 3], 22), p([4, 5], 23)]);
    expectGradOk((a, b) => matmul(a, b, { transB: true }), [p([3, 4], 24), p([5, 4], 25)]);
    expectGradOk((a, b) => matmul(a, b, { transA: true, transB: true }), [p([4, 3], 26), p([5, 4], 27)]);
    expectGradOk((a, b) => matmul(a, b), [p([2, 3, 4], 28), p([4, 5], 29)]);
    expectGradOk((a, b) => matmul(a, b, { transB: true }), [p([2, 3, 4], 30), p([5, 4], 31)]);
    expectGradOk((a, b) => matmul(a, b), [p([2, 2, 3, 4], 32), p([2, 1, 4, 3], 33)]);
  });

  it('for linear with and without bias, at ranks 2 to 4, and with frozen parts', () => {
    expectGradOk((x, w, b) => linear(x, w, b), [p([3, 4], 60), p([4, 5], 61), p([5], 62)]);
    expectGradOk((x, w, b) => linear(x, w, b), [p([2, 3, 4], 63), p([4, 5], 64), p([5], 65)]);
    expectGradOk((x, w) => linear(x, w), [p([2, 2, 3, 4], 66), p([4, 2], 67)]);
    const frozenW = p([4, 5], 69).freeze();
    expectGradOk((x, b) => linear(x, frozenW, b), [p([2, 3, 4], 68), p([5], 70)]);
    const constX = randn([2, 3, 4], new Random(71));
    expectGradOk((w) => linear(constX, w), [p([4, 5], 72)]);
  });

  it('for reshape, transpose, slice and concat', () => {
    expectGradOk((x) => reshape(x, [0, -1]), [p([2, 3, 2], 34)]);
    expectGradOk((x) => transpose(x, [2, 0, 1]), [p([2, 3, 4], 35)]);
    expectGradOk((x) => slice(x, 1, 1, 3), [p([2, 4], 36)]);
    expectGradOk((x) => slice(x, -1, -2), [p([2, 4], 37)]);
    expectGradOk((a, b) => concat([a, b], 1), [p([2, 2], 38), p([2, 3], 39)]);
  });

  it('for sum, mean and max', () => {
    expectGradOk((x) => sum(x), [p([2, 3], 40)]);
    expectGradOk((x) => sum(x, { axes: [1] }), [p([2, 3, 2], 41)]);
    expectGradOk((x) => mean(x, { axes: [0, 2], keepDims: true }), [p([2, 3, 2], 42)]);
    expectGradOk((x) => max(x, { axes: [-1] }), [p([3, 4], 43)]);
  });

  it('for gather with repeated indices (scatter-add)', () => {
    const idx = tensor([0, 2, 2, 1, 0, 2], [2, 3], 'int32');
    expectGradOk((w) => gather(w, idx), [p([4, 3], 44)]);
  });

  it('for softmax, logSoftmax, layerNorm and rmsNorm', () => {
    expectGradOk((x) => softmax(x), [p([2, 5], 45)]);
    expectGradOk((x) => softmax(x, 0), [p([3, 2], 46)]);
    expectGradOk((x) => logSoftmax(x), [p([2, 5], 47)]);
    expectGradOk((x, g, b) => layerNorm(x, g, b), [p([2, 3, 6], 48), p([6], 49), p([6], 50)]);
    expectGradOk((x, g) => rmsNorm(x, g), [p([3, 5], 51), p([5], 52)]);
  });

  it('for crossEntropy, mse, where and dropout', () => {
    const targets = tensor([1, 0, 3, 3, 2, 1], [2, 3], 'int32');
    expectGradOk((x) => crossEntropy(x, targets), [p([2, 3, 4], 53)]);
    expectGradOk(mse, [p([3, 2], 54), p([3, 2], 55)]);
    const cond = boolTensor([1, 0, 0, 1, 1, 0], [2, 3]);
    expectGradOk((a, b) => where(cond, a, b), [p([2, 3], 56), p([3], 57)]);
    expectGradOk((a) => maskedFill(a, cond, -5), [p([2, 3], 58)]);
    expectGradOk((a) => dropout(a, 0.5, new Random(3)), [p([4, 4], 59)]);
  });
});

describe('forward values', () => {
  it('match hand-computed references', () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    const b = tensor([5, 6, 7, 8], [2, 2]);
    expect(matmul(a, b).toArray()).toEqual([19, 22, 43, 50]);
    expect(matmul(a, b, { transA: true }).toArray()).toEqual([26, 30, 38, 44]);
    expect(add(a, tensor([10, 20])).toArray()).toEqual([11, 22, 13, 24]);
    expect(sum(a, { axes: [0] }).toArray()).toEqual([4, 6]);
    expect(max(a, { axes: [1] }).toArray()).toEqual([2, 4]);
    expect(transpose(a).toArray()).toEqual([1, 3, 2, 4]);
    // log(sum(exp([1, 2]))) - 2 = log(1 + e^-1) = 0.31326...
    expect(crossEntropy(a, tensor([1, 0], [2], 'int32')).toArray()[0]).toBeCloseTo(0.313262, 5);
    expect(gather(b, tensor([1, 1, 0], [3], 'int64')).toArray()).toEqual([7, 8, 7, 8, 5, 6]);
  });

  it('linear equals matmul plus a broadcast bias', () => {
    const x = randn([2, 3, 4], new Random(73));
    const w = randn([4, 5], new Random(74));
    const b = randn([5], new Random(75));
    const fused = linear(x, w, b);
    const reference = add(matmul(x, w), b);
    expect(fused.shape).toEqual([2, 3, 5]);
    fused.toArray().forEach((v, i) => expect(v).toBeCloseTo(reference.toArray()[i], 5));
    expect(() => linear(x, w, randn([4], new Random(76)))).toThrow(/bias must be \[5\], got \[4\]/);
    expect(() => linear(x, randn([5, 4], new Random(77)))).toThrow(/weight \[in, out\]/);
  });

  it('rejects mismatched shapes with a validation error naming the op', () => {
    expect(() => add(tensor([1, 2, 3]), tensor([1, 2]))).toThrow(
      /Add cannot run on inputs of shapes \[3\], \[2\]/,
    );
    expect(() => matmul(tensor([1, 2]), tensor([1, 2]))).toThrow(/rank >= 2/);
    expect(() => crossEntropy(tensor([1, 2], [1, 2]), tensor([5], [1], 'int32'))).toThrow(/outside/);
  });

  it('gives layerNorm the same parameter gradients when its input takes none, and the input the same without them', () => {
    const x = randn([2, 3, 6], new Random(78));
    const upstream = randn([2, 3, 6], new Random(79));
    const run = (xTrains: boolean, paramsTrain: boolean) => {
      const input = xTrains ? parameter(Float32Array.from(x.data), x.shape) : x;
      const gamma = parameter(randn([6], new Random(80)).data, [6]);
      const beta = parameter(randn([6], new Random(81)).data, [6]);
      if (!paramsTrain) {
        gamma.freeze();
        beta.freeze();
      }
      const loss = sum(mul(layerNorm(input, gamma, beta), upstream));
      const kernels = profileKernels(() => loss.backward()).map((k) => k.kernel);
      return {
        dx: input.grad?.toArray() ?? null,
        dgamma: gamma.grad?.toArray(),
        dbeta: beta.grad?.toArray(),
        // Only the input's gradient takes the row means (ReduceMean) of the backward formula.
        dxComputed: kernels.some((k) => k.includes('ReduceMean')),
      };
    };
    const all = run(true, true);
    const paramsOnly = run(false, true);
    const inputOnly = run(true, false);
    expect(paramsOnly.dx).toBeNull();
    expect(paramsOnly.dxComputed).toBe(false);
    expect(all.dxComputed).toBe(true);
    expect(paramsOnly.dgamma).toEqual(all.dgamma);
    expect(paramsOnly.dbeta).toEqual(all.dbeta);
    expect(inputOnly.dgamma).toBeUndefined();
    expect(inputOnly.dx).toEqual(all.dx);
    expect(all.dgamma!.some((v) => v !== 0)).toBe(true);
  });

  it('keeps parameter shapes in the gradient', () => {
    const w = parameter([1, 2, 3], [3]);
    sum(mul(w, tensor([1, 1, 1, 2, 2, 2], [2, 3]))).backward();
    expect(w.grad?.toArray()).toEqual([3, 3, 3]);
  });
});
