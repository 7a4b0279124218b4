import { ModelStateError, ValidationError } from '../core/index.js';
import type { DType, RawTensor, TypedArrayOf } from './ort-backend.js';
import { noGrad } from './grad-mode.js';

/**
 * How a tensor was made: its inputs and the rule that turns the gradient of the output into gradients
 * of the inputs. `needs[i]` says whether input i wants a gradient, so a frozen weight costs nothing.
 */
export interface GradFn {
  readonly name: string;
  readonly inputs: readonly Tensor<DType>[];
  backward(grad: Tensor, needs: readonly boolean[]): (Tensor | null)[];
}

/** Number of elements of a shape. */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * An n-dimensional array on the CPU with reverse-mode autograd. `data` is the row-major typed array
 * (shared with views, mutable for parameters so that optimisers can update in place).
 */
export class Tensor<D extends DType = 'float32'> implements RawTensor {
  /** The gradient accumulated by `backward()` (leaves only), or null. */
  grad: Tensor | null = null;
  /** The op that produced this tensor; null for leaves and for tensors made without gradient. */
  gradFn: GradFn | null = null;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** Whether this tensor is a trainable parameter (it may still be frozen). */
  isParameter = false;

  constructor(
    readonly data: TypedArrayOf<D>,
    readonly shape: readonly number[],
    readonly dtype: D,
  ) {
    if (shapeSize(shape) !== data.length) {
      throw new ValidationError(
        `tensor shape [${shape.join(', ')}] needs ${shapeSize(shape)} elements, got ${data.length}`,
      );
    }
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Whether this is a parameter whose gradient is switched off. */
  get frozen(): boolean {
    return this.isParameter && !this.requiresGrad;
  }

  /** The single value of a one-element tensor, as a number. */
  item(): number {
    if (this.data.length !== 1) {
      throw new ValidationError(`item() needs a one-element tensor, got shape [${this.shape.join(', ')}]`);
    }
    return Number(this.data[0]);
  }

  /** The values as a plain array of numbers (for tests and printing). */
  toArray(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /**
   * Back-propagates from this tensor: `grad` defaults to ones for a one-element tensor. Gradients of
   * leaves accumulate into `.grad` across calls until `zeroGrad()`.
   */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad) {
      throw new ModelStateError('backward() called on a tensor that does not require grad');
    }
    if (grad === undefined && this.size !== 1) {
      throw new ValidationError(
        `backward() without a gradient needs a one-element tensor, got shape [${this.shape.join(', ')}]`,
      );
    }
    runBackward(this, grad);
  }

  /** A tensor sharing this one's data, cut off from the graph. */
  detach(): Tensor<D> {
    return new Tensor(this.data, this.shape, this.dtype);
  }

  /** Marks this tensor as a trainable parameter and returns it. */
  asParameter(): this {
    if (this.dtype !== 'float32') throw new ValidationError(`a parameter must be float32, got ${this.dtype}`);
    this.isParameter = true;
    this.requiresGrad = true;
    return this;
  }

  /** Stops gradients for this parameter: backward skips its weight gradient entirely. */
  freeze(): this {
    this.requiresGrad = false;
    this.grad = null;
    return this;
  }

  /** Turns gradients back on for a parameter. */
  unfreeze(): this {
    if (!this.isParameter) throw new ModelStateError('unfreeze() applies to parameters only');
    this.requiresGrad = true;
    return this;
  }

  /** Clears the accumulated gradient. */
  zeroGrad(): void {
    this.grad = null;
  }
}

/** A float32 tensor. */
export type FloatTensor = Tensor;
/** A tensor of indices. */
export type IndexTensor = Tensor<'int32'> | Tensor<'int64'>;

const ARRAYS = {
  float32: Float32Array,
  int32: Int32Array,
  int64: BigInt64Array,
  bool: Uint8Array,
  int8: Int8Array,
  uint8: Uint8Array,
} as const;

/** Wraps backend output as a tensor. */
export function fromRaw<D extends DType>(raw: RawTensor): Tensor<D> {
  return new Tensor(raw.data as TypedArrayOf<D>, raw.shape, raw.dtype as D);
}

/**
 * Makes a tensor from numbers (copied) or a typed array (shared).
 * @example const x = tensor([1, 2, 3, 4], [2, 2]);
 */
export function tensor(data: ArrayLike<number> | Float32Array, shape?: readonly number[]): Tensor;
export function tensor<D extends DType>(
  data: ArrayLike<number> | TypedArrayOf<D>,
  shape: readonly number[] | undefined,
  dtype: D,
): Tensor<D>;
export function tensor(
  data: ArrayLike<number> | Float32Array | Int32Array | BigInt64Array,
  shape?: readonly number[],
  dtype: DType = 'float32',
): Tensor<DType> {
  const Ctor = ARRAYS[dtype];
  let arr: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
  if (data instanceof Ctor) arr = data;
  else if (dtype === 'int64')
    arr = BigInt64Array.from(Array.from(data as ArrayLike<number>, (v) => BigInt(v)));
  else arr = (Ctor as typeof Float32Array).from(data as ArrayLike<number>);
  return new Tensor(arr, shape ?? [arr.length], dtype);
}

/** A float32 tensor of zeros. */
export function zeros(shape: readonly number[]): Tensor {
  return new Tensor(new Float32Array(shapeSize(shape)), shape, 'float32');
}

/** A float32 tensor of ones. */
export function ones(shape: readonly number[]): Tensor {
  return full(shape, 1);
}

/** A float32 tensor filled with `value`. */
export function full(shape: readonly number[], value: number): Tensor {
  return new Tensor(new Float32Array(shapeSize(shape)).fill(value), shape, 'float32');
}

/** Normal samples with mean 0 and standard deviation `std`, drawn from a seeded generator. */
export function randn(shape: readonly number[], rng: { normal(): number }, std = 1): Tensor {
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.normal() * std;
  return new Tensor(data, shape, 'float32');
}

/** Uniform samples in [low, high), drawn from a seeded generator. */
export function rand(shape: readonly number[], rng: { next(): number }, low = 0, high = 1): Tensor {
  const data = new Float32Array(shapeSize(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * rng.next();
  return new Tensor(data, shape, 'float32');
}

/** A trainable parameter holding `data` (shared). */
export function parameter(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  return tensor(data, shape).asParameter();
}

/**
 * Reverse-mode sweep: orders the graph below `root` topologically (iterative DFS, so deep graphs do not
 * overflow the stack), then hands each node's gradient to its rule. Intermediate gradients and the
 * graph itself are released as the sweep passes, like PyTorch without `retain_graph`.
 */
function runBackward(root: Tensor<DType>, seed: Tensor | undefined, sink?: GradientSink): void {
  const order: Tensor<DType>[] = [];
  const visited = new Set<Tensor<DType>>();
  const stack: [Tensor<DType>, number][] = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0].gradFn?.inputs ?? [];
    if (top[1] < inputs.length) {
      const next = inputs[top[1]++];
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(top[0]);
      stack.pop();
    }
  }
  const grads = new Map<Tensor<DType>, Tensor>();
  grads.set(root, seed ?? ones(root.shape));
  // Arrays a leaf may not keep as its own gradient: the caller's seed and arrays already given to
  // another leaf (a rule may hand the same array to several inputs, e.g. add).
  const claimed = new Set<object>(seed ? [seed.data] : []);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      grads.delete(t);
      if (g === undefined) continue;
      const fn = t.gradFn;
      if (fn === null) {
        if (sink === undefined) accumulateLeaf(t, g, claimed);
        else sink.leaf(t, g);
        continue;
      }
      const needs = fn.inputs.map((x) => x.requiresGrad);
      const inputGrads = fn.backward(g, needs);
      t.gradFn = null;
      for (let k = 0; k < fn.inputs.length; k++) {
        const gi = inputGrads[k];
        if (!needs[k] || gi === null || gi === undefined) continue;
        const x = fn.inputs[k];
        const previous = grads.get(x);
        grads.set(
          x,
          previous === undefined ? gi : sink === undefined ? addArrays(previous, gi) : sink.add(previous, gi),
        );
      }
    }
  });
}

/** Where `gradientsOf` sends leaf gradients, and how it sums gradients that meet (as recorded ops). */
export interface GradientSink {
  leaf(t: Tensor<DType>, g: Tensor): void;
  add(a: Tensor, b: Tensor): Tensor;
}

/**
 * The reverse-mode sweep from the one-element `root` without touching any `.grad`: each leaf's gradient
 * goes to `sink.leaf` and gradients that meet are summed by `sink.add` (a kernel, so that a trace
 * records it). The graph below `root` is released, as by `backward()`.
 */
export function gradientsOf(root: Tensor<DType>, sink: GradientSink): void {
  if (!root.requiresGrad) throw new ModelStateError('gradientsOf() on a tensor that does not require grad');
  if (root.size !== 1) {
    throw new ValidationError(`gradientsOf() needs a one-element root, got [${root.shape.join(', ')}]`);
  }
  runBackward(root, undefined, sink);
}

function accumulateLeaf(t: Tensor<DType>, g: Tensor, claimed: Set<object>): void {
  if (g.size !== t.size) {
    throw new ValidationError(
      `gradient of shape [${g.shape.join(', ')}] for a leaf of shape [${t.shape.join(', ')}]`,
    );
  }
  if (t.grad === null) {
    // The leaf owns its gradient array from here on (later backward passes add into it in place, and
    // optimisers and clipping may scale it), so an array that someone else holds is copied.
    const owned = claimed.has(g.data) ? g.data.slice() : g.data;
    claimed.add(owned);
    t.grad = new Tensor(owned, t.shape, 'float32');
    return;
  }
  const acc = t.grad.data;
  const x = g.data;
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
}

function addArrays(a: Tensor, b: Tensor): Tensor {
  const out = new Float32Array(a.size);
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < out.length; i++) out[i] = x[i] + y[i];
  return new Tensor(out, a.shape, 'float32');
}
