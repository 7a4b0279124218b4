import { describe, expect, it } from 'vitest';
import { Random } from '../../core/index.js';
import { Tensor, noGrad, randn } from '../../tensor/index.js';
import type { Module } from '../module.js';
import { gradientCheck } from '../testing.js';
import { Embedding, LayerNorm, Linear, Mlp, MultiHeadAttention, TransformerBlock } from '../index.js';

/** A float input that takes gradients, so that the check covers d out / d x as well. */
function input(shape: number[], seed: number): Tensor {
  const x = randn(shape, new Random(seed), 1);
  x.requiresGrad = true;
  return x;
}

function checkModule(module: Module, forward: () => Tensor, inputs: Record<string, Tensor> = {}): void {
  const targets: Record<string, Tensor> = { ...inputs, ...Object.fromEntries(module.namedParameters()) };
  const { mismatches, checked } = gradientCheck(forward, targets);
  expect(checked).toBeGreaterThan(0);
  expect(mismatches).toEqual([]);
}

describe('layer gradients agree with central differences', () => {
  // A larger initial scale than GPT's 0.02 gives gradients well above float32 noise.
  const init = (seed: number) => ({ rng: new Random(seed), initStd: 0.3 });

  it('Linear, with and without bias', () => {
    const x = input([2, 3, 4], 1);
    const layer = new Linear(4, 5, init(2));
    checkModule(layer, () => layer.forward(x), { x });
    const noBias = new Linear(4, 3, { ...init(3), bias: false });
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);
    checkModule(noBias, () => noBias.forward(x), { x });
  });

  it('Embedding, with repeated indices', () => {
    const layer = new Embedding(5, 3, init(4));
    const ids = new Tensor(new Int32Array([1, 3, 1, 0]), [2, 2], 'int32');
    checkModule(layer, () => layer.forward(ids));
  });

  it('LayerNorm', () => {
    const x = input([3, 6], 5);
    const layer = new LayerNorm(6);
    // Move scale and shift off their identity start so that their gradients are exercised.
    layer.weight.data.set([0.5, 1.5, -1, 2, 1, 0.3]);
    layer.bias.data.set([0.1, -0.2, 0.3, 0, 0.5, -1]);
    checkModule(layer, () => layer.forward(x), { x });
  });

  it('Mlp', () => {
    const x = input([2, 2, 4], 6);
    const layer = new Mlp(4, { ...init(7), hidden: 6 });
    checkModule(layer, () => layer.forward(x), { x });
  });

  it('causal self-attention', () => {
    const x = input([2, 3, 4], 8);
    const layer = new MultiHeadAttention(4, 2, init(9));
    checkModule(layer, () => layer.forward(x), { x });
  });

  it('cross-attention', () => {
    const x = input([2, 3, 4], 10);
    const context = input([2, 5, 6], 11);
    const layer = new MultiHeadAttention(4, 2, { ...init(12), kind: 'cross', contextDim: 6 });
    checkModule(layer, () => layer.forward(x, context), { x, context });
  });

  it('a pre-norm transformer block with cross-attention', () => {
    const x = input([1, 3, 4], 13);
    const context = input([1, 2, 4], 14);
    const block = new TransformerBlock(4, 2, { ...init(15), crossAttentionDim: 4, mlpRatio: 2 });
    checkModule(block, () => block.forward(x, context), { x, context });
  });
});

describe('MultiHeadAttention', () => {
  it('lets no position see the future when causal', () => {
    const attn = new MultiHeadAttention(4, 2, { rng: new Random(1), initStd: 0.5 });
    const a = randn([1, 4, 4], new Random(2));
    const b = new Tensor(Float32Array.from(a.data), [1, 4, 4], 'float32');
    b.data.fill(9, 8); // change positions 2 and 3 only
    const [ya, yb] = noGrad(() => [attn.forward(a), attn.forward(b)]);
    expect(Array.from(yb.data.subarray(0, 8))).toEqual(Array.from(ya.data.subarray(0, 8)));
    expect(Array.from(yb.data.subarray(8))).not.toEqual(Array.from(ya.data.subarray(8)));
  });

  it('applies an extra mask: a blocked context position has no influence', () => {
    const attn = new MultiHeadAttention(4, 1, { rng: new Random(3), initStd: 0.5, kind: 'cross' });
    const x = randn([1, 2, 4], new Random(4));
    const c1 = randn([1, 3, 4], new Random(5));
    const c2 = new Tensor(Float32Array.from(c1.data), [1, 3, 4], 'float32');
    c2.data.fill(-7, 8); // context position 2 differs
    const mask = new Tensor(new Uint8Array([0, 0, 1]), [3], 'bool');
    const [y1, y2] = noGrad(() => [attn.forward(x, c1, { mask }), attn.forward(x, c2, { mask })]);
    expect(Array.from(y2.data)).toEqual(Array.from(y1.data));
  });

  it('validates its shape and its inputs', () => {
    expect(() => new MultiHeadAttention(6, 4)).toThrow('`dim` (6) must be a multiple of `heads` (4)');
    const attn = new MultiHeadAttention(4, 2);
    expect(() => attn.forward(randn([2, 4], new Random(1)))).toThrow(
      /must be \[batch, length, 4\], got \[2, 4\]/,
    );
    const cross = new MultiHeadAttention(4, 2, { kind: 'cross' });
    expect(() => cross.forward(randn([1, 2, 4], new Random(1)))).toThrow(/cross-attention needs a context/);
  });
});

describe('dropout follows the training mode', () => {
  it('changes outputs in training and none in evaluation', () => {
    const mlp = new Mlp(8, { rng: new Random(1), dropout: 0.5, initStd: 0.5 });
    const x = randn([2, 8], new Random(2));
    const train = noGrad(() => [mlp.forward(x).toArray(), mlp.forward(x).toArray()]);
    expect(train[0]).not.toEqual(train[1]);
    mlp.eval();
    expect(mlp.training).toBe(false);
    const evaluated = noGrad(() => [mlp.forward(x).toArray(), mlp.forward(x).toArray()]);
    expect(evaluated[0]).toEqual(evaluated[1]);
    expect(mlp.fc.training).toBe(false);
  });
});
