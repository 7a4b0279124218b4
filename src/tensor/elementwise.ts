/** Element-wise ops with numpy broadcasting, and their backward rules. */
import { ValidationError } from '../core/index.js';
import type { DType } from './ort-backend.js';
import { execute, execute1, recordOnly, threadsForElements, withGrad } from './exec.js';
import { isGradEnabled } from './grad-mode.js';
import { cachedKernel, f32, i64, node, singleNode } from './kernels.js';
import { Tensor, shapeSize } from './tensor.js';

/** A float tensor or a number (broadcast as a scalar). */
export type TensorLike = Tensor | number;

const scalars = new Map<number, Tensor>();
/** A cached 0-d float tensor; ops treat it as read-only. */
export function scalar(value: number): Tensor {
  let t = scalars.get(value);
  if (t === undefined) {
    t = new Tensor(new Float32Array([value]), [], 'float32');
    if (scalars.size < 1024) scalars.set(value, t);
  }
  return t;
}

function asTensor(x: TensorLike): Tensor {
  return typeof x === 'number' ? scalar(x) : x;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A view of `x` with a new shape, sharing its data. ONNX Reshape rules: a 0 keeps the input's dim, a -1
 * is inferred. Traced graphs keep the 0/-1 form, so write batch and sequence dims as 0 or -1 to keep
 * them dynamic.
 */
export function reshape<D extends DType>(x: Tensor<D>, shape: readonly number[]): Tensor<D> {
  const resolved = shape.map((d, i) => (d === 0 ? x.shape[i] : d));
  const inferred = resolved.indexOf(-1);
  if (inferred >= 0) {
    const known = shapeSize(resolved.filter((d) => d !== -1));
    resolved[inferred] = known === 0 ? 0 : x.size / known;
  }
  if (shapeSize(resolved) !== x.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new ValidationError(`cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
  }
  const out = new Tensor(x.data, resolved, x.dtype);
  const key = shape.join(',');
  recordOnly(
    cachedKernel(`reshape:${key}`, () => ({
      inputs: ['x'],
      outputs: ['y'],
      nodes: [node('Reshape', ['x', 's'], ['y'])],
      consts: { s: i64(shape) },
      outputTypes: [x.dtype],
    })),
    [x],
    out,
  );
  return withGrad(out, 'reshape', [x], (g) => [reshape(g, x.shape)]);
}

/** Sums `g` down to `shape`, undoing broadcasting (the gradient of an implicit expand). */
export function sumTo(g: Tensor, shape: readonly number[]): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return reshape(g, shape);
  const k = singleNode('ReduceSum', 2, { keepdims: 1 });
  return reshape(execute1(k, [g, tensorI64(axes)]), shape);
}

/** An int64 vector tensor (for axes, shapes and starts). */
export function tensorI64(values: readonly number[]): Tensor<'int64'> {
  const raw = i64(values);
  return new Tensor(raw.data as BigInt64Array, raw.shape, 'int64');
}

function binary(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Tensor, b: Tensor): Tensor {
  return execute1(singleNode(op, 2), [a, b]);
}

/** a + b, broadcasting. */
export function add(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return withGrad(binary('Add', x, y), 'add', [x, y], (g, needs) => [
    needs[0] ? sumTo(g, x.shape) : null,
    needs[1] ? sumTo(g, y.shape) : null,
  ]);
}

/** a - b, broadcasting. */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return withGrad(binary('Sub', x, y), 'sub', [x, y], (g, needs) => [
    needs[0] ? sumTo(g, x.shape) : null,
    needs[1] ? sumTo(neg(g), y.shape) : null,
  ]);
}

/** a * b, broadcasting. */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return withGrad(binary('Mul', x, y), 'mul', [x, y], (g, needs) => [
    needs[0] ? sumTo(mul(g, y), x.shape) : null,
    needs[1] ? sumTo(mul(g, x), y.shape) : null,
  ]);
}

/** a / b, broadcasting. */
export function div(a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  return withGrad(binary('Div', x, y), 'div', [x, y], (g, needs) => [
    needs[0] ? sumTo(div(g, y), x.shape) : null,
    // d(x/y)/dy = -x / y^2
    needs[1] ? sumTo(neg(div(mul(g, x), mul(y, y))), y.shape) : null,
  ]);
}

/** -x. */
export function neg(x: Tensor): Tensor {
  return withGrad(execute1(singleNode('Neg', 1), [x]), 'neg', [x], (g) => [neg(g)]);
}

/** e^x. */
export function exp(x: Tensor): Tensor {
  const y = execute1(singleNode('Exp', 1), [x]);
  return withGrad(y, 'exp', [x], (g) => [mul(g, y)]);
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return withGrad(execute1(singleNode('Log', 1), [x]), 'log', [x], (g) => [div(g, x)]);
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  const y = execute1(singleNode('Sqrt', 1), [x]);
  return withGrad(y, 'sqrt', [x], (g) => [div(g, mul(y, 2))]);
}

/** x raised to a constant power. */
export function pow(x: Tensor, p: number): Tensor {
  const y = execute1(singleNode('Pow', 2), [x, scalar(p)]);
  return withGrad(y, 'pow', [x], (g) => [mul(g, mul(pow(x, p - 1), p))]);
}

// Fused backward kernels: one session call instead of three or four for the activations that sit
// on the transformer's widest tensors.
const tanhGrad = cachedKernel('tanhGrad', () => ({
  inputs: ['y', 'g'],
  outputs: ['dx'],
  nodes: [
    node('Mul', ['y', 'y'], ['y2']),
    node('Sub', ['one', 'y2'], ['d']),
    node('Mul', ['g', 'd'], ['dx']),
  ],
  consts: { one: f32(1) },
}));
const sigmoidGrad = cachedKernel('sigmoidGrad', () => ({
  inputs: ['y', 'g'],
  outputs: ['dx'],
  nodes: [node('Sub', ['one', 'y'], ['s']), node('Mul', ['y', 's'], ['d']), node('Mul', ['g', 'd'], ['dx'])],
  consts: { one: f32(1) },
}));
const reluGrad = cachedKernel('reluGrad', () => ({
  inputs: ['x', 'g'],
  outputs: ['dx'],
  nodes: [node('Greater', ['x', 'zero'], ['m']), node('Where', ['m', 'g', 'zero'], ['dx'])],
  consts: { zero: f32(0) },
}));
const softplusGrad = cachedKernel('softplusGrad', () => ({
  inputs: ['x', 'g'],
  outputs: ['dx'],
  nodes: [node('Sigmoid', ['x'], ['s']), node('Mul', ['g', 's'], ['dx'])],
}));
// GELU and its derivative in one pass when a gradient will be needed: y = x Phi(x) and
// dy/dx = Phi(x) + x phi(x) share Phi, so the backward is a single multiply.
const geluWithGrad = cachedKernel('geluWithGrad', () => ({
  inputs: ['x'],
  outputs: ['y', 'd'],
  nodes: [
    node('Mul', ['x', 'rsqrt2'], ['a']),
    node('Erf', ['a'], ['e']),
    node('Add', ['e', 'one'], ['e1']),
    node('Mul', ['e1', 'half'], ['cdf']),
    node('Mul', ['x', 'cdf'], ['y']),
    node('Mul', ['x', 'x'], ['x2']),
    node('Mul', ['x2', 'mhalf'], ['m']),
    node('Exp', ['m'], ['ex']),
    node('Mul', ['ex', 'rsqrt2pi'], ['pdf']),
    node('Mul', ['x', 'pdf'], ['xp']),
    node('Add', ['cdf', 'xp'], ['d']),
  ],
  consts: {
    rsqrt2: f32(Math.SQRT1_2),
    one: f32(1),
    half: f32(0.5),
    mhalf: f32(-0.5),
    rsqrt2pi: f32(1 / Math.sqrt(2 * Math.PI)),
  },
}));

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  const y = execute1(singleNode('Tanh', 1), [x]);
  return withGrad(y, 'tanh', [x], (g) => [execute1(tanhGrad, [y, g])]);
}

/** Logistic sigmoid. */
export function sigmoid(x: Tensor): Tensor {
  const y = execute1(singleNode('Sigmoid', 1), [x]);
  return withGrad(y, 'sigmoid', [x], (g) => [execute1(sigmoidGrad, [y, g])]);
}

/** max(x, 0). */
export function relu(x: Tensor): Tensor {
  return withGrad(execute1(singleNode('Relu', 1), [x]), 'relu', [x], (g) => [execute1(reluGrad, [x, g])]);
}

/** log(1 + e^x). */
export function softplus(x: Tensor): Tensor {
  return withGrad(execute1(singleNode('Softplus', 1), [x]), 'softplus', [x], (g) => [
    execute1(softplusGrad, [x, g]),
  ]);
}

/** GELU with the exact (erf) form, as in GPT-2 and BERT. */
export function gelu(x: Tensor): Tensor {
  const threads = threadsForElements(x.size);
  if (!(x.requiresGrad && isGradEnabled())) return execute1(singleNode('Gelu', 1), [x], threads);
  const [y, d] = execute(geluWithGrad, [x], threads) as [Tensor, Tensor];
  return withGrad(y, 'gelu', [x], (g) => [mul(g, d)]);
}

/** Element-wise choice: `cond ? a : b`, broadcasting; `cond` is a bool tensor. */
export function where(cond: Tensor<'bool'>, a: TensorLike, b: TensorLike): Tensor {
  const x = asTensor(a);
  const y = asTensor(b);
  const out = execute1(singleNode('Where', 3), [cond, x, y]);
  return withGrad(out, 'where', [x, y], (g, needs) => [
    needs[0] ? sumTo(execute1(singleNode('Where', 3), [cond, g, scalar(0)]), x.shape) : null,
    needs[1] ? sumTo(execute1(singleNode('Where', 3), [cond, scalar(0), g]), y.shape) : null,
  ]);
}

/** Element-wise `a >= b`, broadcasting: a bool tensor, with no gradient (a step has none). */
export function greaterOrEqual(a: TensorLike, b: TensorLike): Tensor<'bool'> {
  const k = singleNode('GreaterOrEqual', 2, undefined, { outputTypes: ['bool'] });
  return execute1(k, [asTensor(a), asTensor(b)]) as unknown as Tensor<'bool'>;
}

/** Replaces the elements of `x` where `mask` is true by `value` (e.g. -1e9 before a softmax). */
export function maskedFill(x: Tensor, mask: Tensor<'bool'>, value: number): Tensor {
  return where(mask, value, x);
}

/** A bool tensor from 0/1 numbers or booleans. */
export function boolTensor(values: ArrayLike<number | boolean>, shape?: readonly number[]): Tensor<'bool'> {
  const data = Uint8Array.from(Array.from(values, (v) => (v ? 1 : 0)));
  return new Tensor(data, shape ?? [data.length], 'bool');
}
