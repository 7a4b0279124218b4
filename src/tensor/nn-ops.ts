/** The neural-network ops: matmul, softmax, normalisation, losses and dropout, with fused backward kernels. */
import type { Random } from '../core/index.js';
import { ValidationError } from '../core/index.js';
import {
  execute,
  execute1,
  recordingRefusesRandomness,
  threadsFor,
  threadsForElements,
  withGrad,
} from './exec.js';
import { mean, sum } from './reduce.js';
import { mul, reshape, sub, sumTo, tensorI64 } from './elementwise.js';
import { cachedKernel, i64, node, singleNode } from './kernels.js';
import type { Kernel } from './ort-backend.js';
import type { IndexTensor } from './tensor.js';
import { Tensor } from './tensor.js';

/** Options of `matmul`: transpose the last two dims of either operand. */
export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

function mm(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const m = a.shape[a.rank - (transA ? 1 : 2)];
  const k = a.shape[a.rank - (transA ? 2 : 1)];
  const n = b.shape[b.rank - (transB ? 2 : 1)];
  const batch = Math.max(a.size / (a.shape[a.rank - 1] * a.shape[a.rank - 2]), 1);
  const threads = threadsFor(2 * m * k * n * batch);
  const kernel =
    !transA && !transB
      ? singleNode('MatMul', 2)
      : singleNode(
          'FusedMatMul',
          2,
          { transA: transA ? 1 : 0, transB: transB ? 1 : 0 },
          { domain: 'com.microsoft' },
        );
  return execute1(kernel, [a, b], threads);
}

/** Collapses all leading dims: [..., r, c] -> [prod, c] (a view). */
function flatten2(x: Tensor): Tensor {
  return reshape(x, [-1, x.shape[x.rank - 1]]);
}

/**
 * Matrix product of the last two dims with broadcast batch dims (both operands rank >= 2), optionally
 * transposing either operand without materialising the transpose.
 * @example const y = matmul(x, w); // [B, T, in] x [in, out] -> [B, T, out]
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (a.rank < 2 || b.rank < 2) {
    throw new ValidationError(
      `matmul needs operands of rank >= 2, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`,
    );
  }
  const tA = options.transA ?? false;
  const tB = options.transB ?? false;
  const out = mm(a, b, tA, tB);
  return withGrad(out, 'matmul', [a, b], (g, needs) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (needs[0]) {
      da = tA ? mm(b, g, tB, true) : mm(g, b, false, !tB);
      da = sumTo(da, a.shape);
    }
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2 && !tA) {
        // A weight shared across the batch: one 2-D product over all rows instead of a batched
        // product followed by a sum.
        const a2 = flatten2(a);
        const g2 = flatten2(g);
        db = tB ? mm(g2, a2, true, false) : mm(a2, g2, true, false);
      } else {
        db = tB ? mm(g, a, true, tA) : mm(a, g, !tA, false);
        db = sumTo(db, b.shape);
      }
    }
    return [da, db];
  });
}

function linearKernel(rank: number, bias: boolean): Kernel {
  return cachedKernel(`linear:${rank}:${bias}`, () => {
    const flat = rank > 2;
    const x2 = flat ? 'x2' : 'x';
    const nodes = [
      ...(flat ? [node('Flatten', ['x'], ['x2'], { axis: rank - 1 })] : []),
      node('Gemm', bias ? [x2, 'w', 'b'] : [x2, 'w'], [flat ? 'y2' : 'y']),
    ];
    if (flat) {
      // Back to [..., out] from the shapes inside the graph, so that a trace keeps its dims dynamic.
      nodes.push(
        node('Shape', ['x'], ['lead'], { end: -1 }),
        node('Shape', ['w'], ['width'], { start: 1 }),
        node('Concat', ['lead', 'width'], ['yShape'], { axis: 0 }),
        node('Reshape', ['y2', 'yShape'], ['y']),
      );
    }
    return { inputs: bias ? ['x', 'w', 'b'] : ['x', 'w'], outputs: ['y'], nodes };
  });
}

function linearGradKernel(rank: number, dx: boolean, dw: boolean, db: boolean): Kernel {
  return cachedKernel(`linearGrad:${rank}:${dx}:${dw}:${db}`, () => {
    const flat = rank > 2;
    const g2 = flat ? 'g2' : 'g';
    const x2 = flat ? 'x2' : 'x';
    const nodes = flat ? [node('Flatten', ['g'], ['g2'], { axis: rank - 1 })] : [];
    const outputs: string[] = [];
    if (dx) {
      nodes.push(node('Gemm', [g2, 'w'], [flat ? 'dx2' : 'dx'], { transB: 1 }));
      if (flat) nodes.push(node('Shape', ['x'], ['xShape']), node('Reshape', ['dx2', 'xShape'], ['dx']));
      outputs.push('dx');
    }
    if (dw) {
      if (flat) nodes.push(node('Flatten', ['x'], ['x2'], { axis: rank - 1 }));
      nodes.push(node('Gemm', [x2, g2], ['dw'], { transA: 1 }));
      outputs.push('dw');
    }
    if (db) {
      nodes.push(node('ReduceSum', [g2, 'first'], ['db'], { keepdims: 0 }));
      outputs.push('db');
    }
    return { inputs: ['x', 'w', 'g'], outputs, nodes, consts: { first: i64([0]) } };
  });
}

/**
 * x W (+ b) over the last dim of `x` [..., in], with `weight` [in, out] and `bias` [out]: one Gemm
 * session forward (the bias added inside the product) and one session backward for dx, dW and db.
 * Same result as `add(matmul(x, weight), bias)` with fewer ops and no separate pass for the bias.
 * @example const y = linear(x, w, b); // [B, T, 192] x [192, 768] + [768] -> [B, T, 768]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  const inner = x.shape[x.rank - 1];
  if (x.rank < 2 || weight.rank !== 2 || weight.shape[0] !== inner) {
    throw new ValidationError(
      `linear needs x [..., in] of rank >= 2 and weight [in, out], got [${x.shape.join(', ')}] and [${weight.shape.join(', ')}]`,
    );
  }
  const width = weight.shape[1];
  if (bias !== undefined && (bias.rank !== 1 || bias.shape[0] !== width)) {
    throw new ValidationError(`linear: bias must be [${width}], got [${bias.shape.join(', ')}]`);
  }
  const threads = threadsFor(2 * x.size * width);
  const inputs = bias === undefined ? [x, weight] : [x, weight, bias];
  const y = execute1(linearKernel(x.rank, bias !== undefined), inputs, threads);
  return withGrad(y, 'linear', inputs, (g, needs) => {
    const dx = needs[0];
    const dw = needs[1];
    const db = needs[2] ?? false;
    const outs = execute(linearGradKernel(x.rank, dx, dw, db), [x, weight, g], threads) as Tensor[];
    // The kernel returns only the wanted gradients, in the order dx, dW, db.
    const wanted = [dx, dw, db].slice(0, inputs.length);
    return wanted.map((want, i) => (want ? outs[wanted.slice(0, i).filter(Boolean).length] : null));
  });
}

const softmaxGrad = cachedKernel('softmaxGrad', () => ({
  inputs: ['y', 'g', 'axes'],
  outputs: ['dx'],
  // dx = y * (g - sum(g * y))
  nodes: [
    node('Mul', ['g', 'y'], ['gy']),
    node('ReduceSum', ['gy', 'axes'], ['s'], { keepdims: 1 }),
    node('Sub', ['g', 's'], ['d']),
    node('Mul', ['y', 'd'], ['dx']),
  ],
}));
const logSoftmaxGrad = cachedKernel('logSoftmaxGrad', () => ({
  inputs: ['y', 'g', 'axes'],
  outputs: ['dx'],
  // dx = g - softmax * sum(g)
  nodes: [
    node('ReduceSum', ['g', 'axes'], ['s'], { keepdims: 1 }),
    node('Exp', ['y'], ['p']),
    node('Mul', ['p', 's'], ['ps']),
    node('Sub', ['g', 'ps'], ['dx']),
  ],
}));

/** Softmax along `axis` (the last by default). */
export function softmax(x: Tensor, axis = -1): Tensor {
  const y = execute1(singleNode('Softmax', 1, { axis }), [x]);
  const a = axis < 0 ? axis + x.rank : axis;
  return withGrad(y, 'softmax', [x], (g) => [execute1(softmaxGrad, [y, g, tensorI64([a])])]);
}

/** Log of the softmax along `axis` (the last by default), computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  const y = execute1(singleNode('LogSoftmax', 1, { axis }), [x]);
  const a = axis < 0 ? axis + x.rank : axis;
  return withGrad(y, 'logSoftmax', [x], (g) => [execute1(logSoftmaxGrad, [y, g, tensorI64([a])])]);
}

function layerNormGradKernel(withDx: boolean, withParams: boolean): ReturnType<typeof cachedKernel> {
  return cachedKernel(`layerNormGrad:${withDx}:${withParams}`, () => ({
    inputs: ['x', 'g', 'gamma', 'mu', 'rstd'],
    outputs: [...(withDx ? ['dx'] : []), ...(withParams ? ['dgamma', 'dbeta'] : [])],
    // x, g: [N, D]; mu, rstd: [N, 1]. With xh = (x - mu) * rstd and dxh = g * gamma:
    // dx = rstd * (dxh - mean(dxh) - xh * mean(dxh * xh)); dgamma = sum_N(g * xh); dbeta = sum_N(g).
    nodes: [
      node('Sub', ['x', 'mu'], ['xc']),
      node('Mul', ['xc', 'rstd'], ['xh']),
      ...(withDx
        ? [
            node('Mul', ['g', 'gamma'], ['dxh']),
            node('ReduceMean', ['dxh', 'last'], ['m1'], { keepdims: 1 }),
            node('Mul', ['dxh', 'xh'], ['dxhxh']),
            node('ReduceMean', ['dxhxh', 'last'], ['m2'], { keepdims: 1 }),
            node('Mul', ['xh', 'm2'], ['t2']),
            node('Sub', ['dxh', 'm1'], ['t1']),
            node('Sub', ['t1', 't2'], ['t3']),
            node('Mul', ['t3', 'rstd'], ['dx']),
          ]
        : []),
      ...(withParams
        ? [
            node('Mul', ['g', 'xh'], ['gxh']),
            node('ReduceSum', ['gxh', 'first'], ['dgamma'], { keepdims: 0 }),
            node('ReduceSum', ['g', 'first'], ['dbeta'], { keepdims: 0 }),
          ]
        : []),
    ],
    consts: { last: i64([-1]), first: i64([0]) },
  }));
}

/**
 * Layer normalisation over the last dim (one ONNX LayerNormalization node forward, one fused node
 * graph backward): (x - mean) / sqrt(var + eps) * gamma + beta.
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const d = x.shape[x.rank - 1];
  if (gamma.size !== d || beta.size !== d) {
    throw new ValidationError(
      `layerNorm: gamma and beta need ${d} elements, got ${gamma.size} and ${beta.size}`,
    );
  }
  const kernel = singleNode('LayerNormalization', 3, { axis: -1, epsilon: { float: eps } }, { nOutputs: 3 });
  const threads = threadsForElements(x.size);
  const [y, mu, rstd] = execute(kernel, [x, gamma, beta], threads) as [Tensor, Tensor, Tensor];
  return withGrad(y, 'layerNorm', [x, gamma, beta], (g, needs) => {
    // The input's gradient is skipped when nothing below wants it (the lowest trainable layer of a
    // partly frozen model), and the parameters' when they are frozen.
    const withDx = needs[0];
    const withParams = needs[1] || needs[2];
    const x2 = reshape(x, [-1, d]);
    const outs = execute(
      layerNormGradKernel(withDx, withParams),
      [x2, reshape(g, [-1, d]), gamma, reshape(mu, [-1, 1]), reshape(rstd, [-1, 1])],
      threads,
    ) as Tensor[];
    const p = withDx ? 1 : 0;
    return [
      withDx ? reshape(outs[0], x.shape) : null,
      needs[1] ? reshape(outs[p], gamma.shape) : null,
      needs[2] ? reshape(outs[p + 1], beta.shape) : null,
    ];
  });
}

/** RMS normalisation over the last dim: x / sqrt(mean(x^2) + eps) * gamma (Zhang & Sennrich 2019). */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  const kernel = cachedKernel('rmsNorm', () => ({
    inputs: ['x', 'eps'],
    outputs: ['r'],
    nodes: [
      node('Mul', ['x', 'x'], ['x2']),
      node('ReduceMean', ['x2', 'last'], ['ms'], { keepdims: 1 }),
      node('Add', ['ms', 'eps'], ['v']),
      node('Sqrt', ['v'], ['s']),
      node('Reciprocal', ['s'], ['r']),
    ],
    consts: { last: i64([-1]) },
  }));
  // The inverse RMS is computed by one fused kernel; it is differentiated through the composite
  // r = (mean(x^2) + eps)^(-1/2), dr/dx = -r^3 x / D, written with the tracked ops below.
  const d = x.shape[x.rank - 1];
  const r = execute1(kernel, [x, new Tensor(new Float32Array([eps]), [], 'float32')]);
  const rTracked = withGrad(r, 'rmsNormScale', [x], (g) => [
    mul(mul(sum(g, { axes: [-1], keepDims: true }), mul(mul(r, mul(r, r)), -1 / d)), x),
  ]);
  return mul(mul(x, rTracked), gamma);
}

// Softmax cross-entropy per row: LogSoftmax + GatherElements forward (also returning the softmax for
// the backward), and dlogits = (softmax - onehot) * g as one scatter-add graph backward.
const crossEntropyForward = cachedKernel('crossEntropy', () => ({
  inputs: ['logits', 'targets'],
  outputs: ['loss', 'probs'],
  // Targets arrive as they are (int32 or int64, flat) and become int64 columns inside the graph, so
  // that a traced training step takes them as an input rather than a constant.
  nodes: [
    node('Cast', ['targets'], ['t64'], { to: 7 }),
    node('Unsqueeze', ['t64', 'col'], ['t']),
    node('LogSoftmax', ['logits'], ['lsm'], { axis: -1 }),
    node('GatherElements', ['lsm', 't'], ['picked'], { axis: 1 }),
    node('Neg', ['picked'], ['loss']),
    node('Exp', ['lsm'], ['probs']),
  ],
  consts: { col: i64([1]) },
}));
const crossEntropyBackward = cachedKernel('crossEntropyGrad', () => ({
  inputs: ['probs', 'targets', 'g'],
  outputs: ['dx'],
  nodes: [
    node('Cast', ['targets'], ['t64'], { to: 7 }),
    node('Unsqueeze', ['t64', 'col'], ['t']),
    node('Mul', ['probs', 'g'], ['pg']),
    node('Neg', ['g'], ['ng']),
    node('ScatterElements', ['pg', 't', 'ng'], ['dx'], { axis: 1, reduction: 'add' }),
  ],
  consts: { col: i64([1]) },
}));

/**
 * Cross-entropy of `logits` [..., V] against integer `targets` [...], one loss per position (shape of
 * `targets`), so that callers can weight positions before reducing.
 * @example const loss = mean(mul(crossEntropy(logits, targets), weights));
 */
export function crossEntropy(logits: Tensor, targets: IndexTensor): Tensor {
  const v = logits.shape[logits.rank - 1];
  if (targets.size * v !== logits.size) {
    throw new ValidationError(
      `crossEntropy: logits [${logits.shape.join(', ')}] do not match targets [${targets.shape.join(', ')}]`,
    );
  }
  const data = targets.data;
  for (let i = 0; i < data.length; i++) {
    const c = Number(data[i]);
    if (!(c >= 0 && c < v)) throw new ValidationError(`crossEntropy: target ${c} is outside [0, ${v})`);
  }
  const tt = reshape(targets as Tensor<'int32' | 'int64'>, [-1]);
  // One thread: with two, the [1024, 2048] logits of the reference GPT took 28% more CPU time
  // (the scatter and gather parts do not split) for no shorter wall time.
  const [loss, probs] = execute(crossEntropyForward, [reshape(logits, [-1, v]), tt]) as [Tensor, Tensor];
  const out = reshape(loss, targets.shape);
  return withGrad(out, 'crossEntropy', [logits], (g) => [
    reshape(execute1(crossEntropyBackward, [probs, tt, reshape(g, [-1, 1])]), logits.shape),
  ]);
}

/** Mean squared error over all elements. */
export function mse(prediction: Tensor, target: Tensor): Tensor {
  const d = sub(prediction, target);
  return mean(mul(d, d));
}

/**
 * Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1-p); the mask
 * comes from the seeded generator so that runs repeat. Identity when `p` is 0.
 */
export function dropout(x: Tensor, p: number, rng: Random): Tensor {
  if (!(p >= 0 && p < 1)) throw new ValidationError(`dropout: \`p\` must be in [0, 1), got ${p}`);
  if (p === 0) return x;
  if (recordingRefusesRandomness()) {
    throw new ValidationError(
      'dropout cannot run inside a traced training step (its mask would be frozen): use dropout 0 or eager steps',
    );
  }
  const mask = new Float32Array(x.size);
  const scale = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = rng.next() < p ? 0 : scale;
  return mul(x, new Tensor(mask, x.shape, 'float32'));
}
