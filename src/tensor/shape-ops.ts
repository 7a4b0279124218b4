/** Ops that move elements around: transpose, slice, concat, gather, and their backward rules. */
import { ValidationError } from '../core/index.js';
import { execute1, execute, withGrad } from './exec.js';
import { tensorI64 } from './elementwise.js';
import { cachedKernel, i64, node, singleNode } from './kernels.js';
import type { IndexTensor } from './tensor.js';
import { Tensor } from './tensor.js';

function axisOf(axis: number, rank: number, what: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ValidationError(`${what}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}

/** Permutes the dimensions; `perm` defaults to reversing them. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new ValidationError(`transpose: perm [${p.join(', ')}] is not a permutation of rank ${x.rank}`);
  }
  const inverse = new Array<number>(p.length);
  p.forEach((v, i) => (inverse[v] = i));
  const out = execute1(singleNode('Transpose', 1, { perm: [...p] }), [x]);
  return withGrad(out, 'transpose', [x], (g) => [transpose(g, inverse)]);
}

/** Swaps the last two dimensions. */
export function transposeLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

/** Elements `start <= i < end` along `axis` (negative values count from the end). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = axisOf(axis, x.rank, 'slice');
  const dim = x.shape[a];
  const s = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
  const e = Math.min(Math.max(end === undefined ? dim : end < 0 ? end + dim : end, s), dim);
  const k = singleNode('Slice', 4);
  const out = execute1(k, [x, tensorI64([s]), tensorI64([e]), tensorI64([a])]);
  return withGrad(out, 'slice', [x], (g) => {
    const pads = new Array<number>(2 * x.rank).fill(0);
    pads[a] = s;
    pads[x.rank + a] = dim - e;
    return [execute1(singleNode('Pad', 2), [g, tensorI64(pads)])];
  });
}

/** Joins tensors along `axis`. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ValidationError('concat needs at least one tensor');
  const a = axisOf(axis, xs[0].rank, 'concat');
  const out = execute1(singleNode('Concat', xs.length, { axis: a }), xs);
  return withGrad(out, 'concat', xs, (g, needs) => {
    let offset = 0;
    return xs.map((x, i) => {
      const start = offset;
      offset += x.shape[a];
      return needs[i] ? slice(g, a, start, offset) : null;
    });
  });
}

/** Splits `x` into pieces of the given sizes along `axis` (the inverse of concat). */
export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  let offset = 0;
  return sizes.map((n) => {
    const piece = slice(x, axis, offset, offset + n);
    offset += n;
    return piece;
  });
}

// The embedding gradient: zeros of the table's shape, then a scatter-add of the output gradient rows
// at the looked-up indices (ScatterND with reduction "add" sums repeated indices). The indices become
// int64 columns inside the graph, so a traced training step takes them as an input.
const gatherGrad = cachedKernel('gatherGrad', () => ({
  inputs: ['shape', 'idx', 'g'],
  outputs: ['dw'],
  nodes: [
    node('Cast', ['idx'], ['i64'], { to: 7 }),
    node('Unsqueeze', ['i64', 'last'], ['col']),
    node('ConstantOfShape', ['shape'], ['z']),
    node('ScatterND', ['z', 'col', 'g'], ['dw'], { reduction: 'add' }),
  ],
  consts: { last: i64([-1]) },
}));

/**
 * Rows of `table` at `indices` (an embedding lookup): output shape is `indices.shape` + table row shape.
 */
export function gather(table: Tensor, indices: IndexTensor): Tensor {
  const out = execute1(singleNode('Gather', 2, { axis: 0 }), [table, indices]);
  return withGrad(out, 'gather', [table], (g) => {
    return [execute(gatherGrad, [tensorI64(table.shape), indices, g])[0] as Tensor];
  });
}
