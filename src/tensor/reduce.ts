/** Reductions: sum, mean and max over axes, with backward rules. */
import { ValidationError } from '../core/index.js';
import { execute1, withGrad } from './exec.js';
import { mul, reshape, tensorI64 } from './elementwise.js';
import { cachedKernel, node, singleNode } from './kernels.js';
import type { Tensor } from './tensor.js';
import { shapeSize } from './tensor.js';

/** Options of the reductions: which axes (all by default) and whether to keep them as size 1. */
export interface ReduceOptions {
  axes?: readonly number[];
  keepDims?: boolean;
}

function resolveAxes(x: Tensor, axes: readonly number[] | undefined): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return axes.map((a) => {
    const r = a < 0 ? a + x.rank : a;
    if (!Number.isInteger(r) || r < 0 || r >= x.rank) {
      throw new ValidationError(`axis ${a} is out of range for a tensor of rank ${x.rank}`);
    }
    return r;
  });
}

function keptShape(x: Tensor, axes: readonly number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduce(op: string, x: Tensor, axes: number[], keepDims: boolean): Tensor {
  const out = execute1(singleNode(op, 2, { keepdims: 1 }), [x, tensorI64(axes)]);
  return keepDims
    ? out
    : reshape(
        out,
        x.shape.filter((_, i) => !axes.includes(i)),
      );
}

function expandTo(g: Tensor, x: Tensor, axes: number[]): Tensor {
  const gk = reshape(g, keptShape(x, axes));
  return execute1(singleNode('Expand', 2), [gk, tensorI64(x.shape)]);
}

/** Sum over `axes` (all by default). */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = resolveAxes(x, options.axes);
  const out = reduce('ReduceSum', x, axes, options.keepDims ?? false);
  return withGrad(out, 'sum', [x], (g) => [expandTo(g, x, axes)]);
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = resolveAxes(x, options.axes);
  const count = shapeSize(axes.map((a) => x.shape[a]));
  const out = reduce('ReduceMean', x, axes, options.keepDims ?? false);
  return withGrad(out, 'mean', [x], (g) => [mul(expandTo(g, x, axes), 1 / count)]);
}

// The gradient of a max goes to the maximal elements, split evenly between ties.
const maxGrad = cachedKernel('maxGrad', () => ({
  inputs: ['x', 'y', 'g', 'axes'],
  outputs: ['dx'],
  nodes: [
    node('Equal', ['x', 'y'], ['eq']),
    node('Cast', ['eq'], ['m'], { to: 1 }),
    node('ReduceSum', ['m', 'axes'], ['n'], { keepdims: 1 }),
    node('Div', ['g', 'n'], ['share']),
    node('Mul', ['m', 'share'], ['dx']),
  ],
}));

/** Maximum over `axes` (all by default). */
export function max(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = resolveAxes(x, options.axes);
  const kept = execute1(singleNode('ReduceMax', 2, { keepdims: 1 }), [x, tensorI64(axes)]);
  const out = options.keepDims
    ? kept
    : reshape(
        kept,
        x.shape.filter((_, i) => !axes.includes(i)),
      );
  return withGrad(out, 'max', [x], (g) => [
    execute1(maxGrad, [x, kept, reshape(g, keptShape(x, axes)), tensorI64(axes)]),
  ]);
}
