/**
 * Fused multi-head scaled dot-product attention: one session forward (head split, scores, causal
 * mask, softmax, weighted sum, head merge) and one session backward. Unfused, the same computation
 * costs about 20 op calls forward and 40 backward in the transformer's hottest block.
 */
import { ValidationError } from '../core/index.js';
import { execute, threadsFor, threadsForElements, withGrad } from './exec.js';
import type { Kernel, RawTensor } from './ort-backend.js';
import { cachedKernel, f32, i64, node } from './kernels.js';
import { Tensor } from './tensor.js';

/** Options of `attention`. */
export interface AttentionOptions {
  /** Number of heads; the width C of q, k and v must divide by it. */
  heads: number;
  /**
   * Mask future positions: query i sits at position `offset + i` among the keys and sees keys
   * 0..offset + i. With as many queries as keys this is the usual triangle.
   */
  causal?: boolean;
  /**
   * With `causal`, the key position of the first query (default Tk - Tq: the queries are the last Tq
   * positions, as when decoding one new token after a key/value cache). Keys after the last query's
   * position are masked, so a preallocated cache longer than the filled part can be passed whole.
   */
  offset?: number;
  /** An additive mask broadcastable to [B, heads, Tq, Tk] (0 to keep, a large negative to drop). */
  mask?: Tensor;
}

const NEG = -1e9;

function splitHeads(x: string, out: string): ReturnType<typeof node>[] {
  return [
    node('Reshape', [x, 'headShape'], [`${out}_r`]),
    node('Transpose', [`${out}_r`], [out], { perm: [0, 2, 1, 3] }),
  ];
}
function mergeHeads(x: string, out: string): ReturnType<typeof node>[] {
  return [
    node('Transpose', [x], [`${out}_t`], { perm: [0, 2, 1, 3] }),
    node('Reshape', [`${out}_t`, 'mergeShape'], [out]),
  ];
}

function constsFor(heads: number): Record<string, RawTensor> {
  return {
    headShape: i64([0, 0, heads, -1]),
    mergeShape: i64([0, 0, -1]),
    neg: f32(NEG),
    one: { dtype: 'int64', shape: [], data: new BigInt64Array([1n]) },
    tkMinusTq: i64([-1, 1]),
    last: i64([-1]),
  };
}

const unpack = node('Split', ['qkv'], ['q', 'k', 'v'], { axis: 2, num_outputs: 3 });

/**
 * How the causal mask finds its diagonal: `aligned` from the scores' shape (offset Tk - Tq, so a traced
 * graph stays valid for every length), `offset` from an int64 scalar input (offset + 1), so that one
 * session serves every decoding step.
 */
type CausalMode = 'none' | 'aligned' | 'offset';

function forwardKernel(
  heads: number,
  scale: number,
  causal: CausalMode,
  masked: boolean,
  packed: boolean,
): Kernel {
  return cachedKernel(`attention:${heads}:${scale}:${causal}:${masked}:${packed}`, () => {
    const nodes = [
      ...(packed ? [unpack] : []),
      ...splitHeads('q', 'qh'),
      ...splitHeads('k', 'kh'),
      ...splitHeads('v', 'vh'),
      node('FusedMatMul', ['qh', 'kh'], ['s0'], { transB: 1, alpha: { float: scale } }, 'com.microsoft'),
    ];
    let s = 's0';
    if (causal !== 'none') {
      // An additive mask above the diagonal `diag` (key j is blocked for query i when j - i >= diag),
      // built from the scores' own shape, so the graph keeps Tq and Tk dynamic.
      nodes.push(node('Shape', ['s0'], ['tt'], { start: -2 }));
      if (causal === 'aligned') {
        // diag = Tk - Tq + 1, from [Tq, Tk] . [-1, 1] + 1.
        nodes.push(
          node('Mul', ['tt', 'tkMinusTq'], ['ttSigned']),
          node('ReduceSum', ['ttSigned'], ['shift'], { keepdims: 0 }),
          node('Add', ['shift', 'one'], ['diag']),
        );
      }
      nodes.push(
        node('Expand', ['neg', 'tt'], ['full']),
        node('Trilu', ['full', 'diag'], ['upper'], { upper: 1 }),
        node('Add', ['s0', 'upper'], ['s1']),
      );
      s = 's1';
    }
    if (masked) {
      nodes.push(node('Add', [s, 'mask'], ['s2']));
      s = 's2';
    }
    nodes.push(
      node('Softmax', [s], ['p'], { axis: -1 }),
      node('MatMul', ['p', 'vh'], ['oh']),
      ...mergeHeads('oh', 'o'),
    );
    const qkv = packed ? ['qkv'] : ['q', 'k', 'v'];
    return {
      inputs: [...qkv, ...(masked ? ['mask'] : []), ...(causal === 'offset' ? ['diag'] : [])],
      outputs: ['o', 'p'],
      nodes,
      consts: constsFor(heads),
    };
  });
}

function backwardKernel(heads: number, scale: number, packed: boolean): Kernel {
  return cachedKernel(`attentionGrad:${heads}:${scale}:${packed}`, () => ({
    inputs: packed ? ['qkv', 'p', 'go'] : ['q', 'k', 'v', 'p', 'go'],
    outputs: packed ? ['dqkv'] : ['dq', 'dk', 'dv'],
    // With S = scale * Q K^T, P = softmax(S), O = P V:
    // dV = P^T dO; dP = dO V^T; dS = P * (dP - rowsum(dP * P)); dQ = scale dS K; dK = scale dS^T Q.
    nodes: [
      ...(packed ? [unpack] : []),
      ...splitHeads('q', 'qh'),
      ...splitHeads('k', 'kh'),
      ...splitHeads('v', 'vh'),
      ...splitHeads('go', 'goh'),
      node('FusedMatMul', ['p', 'goh'], ['dvh'], { transA: 1 }, 'com.microsoft'),
      node('FusedMatMul', ['goh', 'vh'], ['dp'], { transB: 1 }, 'com.microsoft'),
      node('Mul', ['dp', 'p'], ['dpp']),
      node('ReduceSum', ['dpp', 'last'], ['rs'], { keepdims: 1 }),
      node('Sub', ['dp', 'rs'], ['dd']),
      node('Mul', ['p', 'dd'], ['ds']),
      node('FusedMatMul', ['ds', 'kh'], ['dqh'], { alpha: { float: scale } }, 'com.microsoft'),
      node('FusedMatMul', ['ds', 'qh'], ['dkh'], { transA: 1, alpha: { float: scale } }, 'com.microsoft'),
      ...mergeHeads('dqh', 'dq'),
      ...mergeHeads('dkh', 'dk'),
      ...mergeHeads('dvh', 'dv'),
      ...(packed ? [node('Concat', ['dq', 'dk', 'dv'], ['dqkv'], { axis: 2 })] : []),
    ],
    consts: constsFor(heads),
  }));
}

/** Threads for the products (by FLOPs) or for the chain over the [B, heads, Tq, Tk] scores. */
function attentionThreads(b: number, heads: number, tq: number, tk: number, c: number): number {
  return Math.max(threadsFor(4 * b * tq * tk * c), threadsForElements(b * heads * tq * tk));
}

/** Picks the causal mask's kernel variant and its extra input, checking `offset` against the lengths. */
function causalMask(
  options: AttentionOptions,
  tq: number,
  tk: number,
  op: string,
): { mode: CausalMode; extra: Tensor<'int64'>[] } {
  if (!(options.causal ?? false)) {
    if (options.offset !== undefined) {
      throw new ValidationError(`${op}: \`offset\` applies only with \`causal: true\``);
    }
    return { mode: 'none', extra: [] };
  }
  const offset = options.offset ?? tk - tq;
  if (!Number.isInteger(offset) || offset < 0 || offset + tq > tk) {
    throw new ValidationError(
      `${op}: causal masking needs 0 <= \`offset\` <= keys - queries (${tk} - ${tq}), got ${offset}`,
    );
  }
  // The shape-derived diagonal serves the common case and keeps traced graphs length-agnostic.
  if (offset === tk - tq) return { mode: 'aligned', extra: [] };
  return {
    mode: 'offset',
    extra: [new Tensor(BigInt64Array.of(BigInt(offset + 1)), [], 'int64')],
  };
}

/**
 * Multi-head scaled dot-product attention on q [B, Tq, C], k and v [B, Tk, C] -> [B, Tq, C]:
 * softmax(q_h k_h^T / sqrt(C / heads) + mask) v_h per head, heads concatenated.
 * @example const y = attention(q, k, v, { heads: 4, causal: true });
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions): Tensor {
  const { heads } = options;
  if (q.rank !== 3 || k.rank !== 3 || v.rank !== 3) {
    throw new ValidationError(
      `attention needs q, k, v of rank 3 [B, T, C], got [${q.shape.join(', ')}], [${k.shape.join(', ')}], [${v.shape.join(', ')}]`,
    );
  }
  const c = q.shape[2];
  if (!Number.isInteger(heads) || heads <= 0 || c % heads !== 0) {
    throw new ValidationError(
      `attention: \`heads\` must be a positive divisor of the width ${c}, got ${heads}`,
    );
  }
  if (k.shape[1] !== v.shape[1]) {
    throw new ValidationError(`attention needs as many keys as values, got ${k.shape[1]} and ${v.shape[1]}`);
  }
  const { mode, extra } = causalMask(options, q.shape[1], k.shape[1], 'attention');
  const scale = 1 / Math.sqrt(c / heads);
  const threads = attentionThreads(q.shape[0], heads, q.shape[1], k.shape[1], c);
  const masked = options.mask !== undefined;
  const inputs = [q, k, v, ...(masked ? [options.mask!] : []), ...extra];
  const [o, p] = execute(forwardKernel(heads, scale, mode, masked, false), inputs, threads) as [
    Tensor,
    Tensor,
  ];
  return withGrad(o, 'attention', [q, k, v], (g, needs) => {
    const [dq, dk, dv] = execute(backwardKernel(heads, scale, false), [q, k, v, p, g], threads) as [
      Tensor,
      Tensor,
      Tensor,
    ];
    return [needs[0] ? dq : null, needs[1] ? dk : null, needs[2] ? dv : null];
  });
}

/**
 * Self-attention on a packed projection qkv [B, T, 3C] (q, k and v side by side, as one matmul makes
 * them) -> [B, T, C]. Same result as `attention` on the three slices, without the slice and pad ops.
 * @example const y = selfAttention(matmul(x, wQkv), { heads: 4, causal: true });
 */
export function selfAttention(qkv: Tensor, options: AttentionOptions): Tensor {
  const { heads } = options;
  if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0) {
    throw new ValidationError(`selfAttention needs qkv of shape [B, T, 3C], got [${qkv.shape.join(', ')}]`);
  }
  const c = qkv.shape[2] / 3;
  if (!Number.isInteger(heads) || heads <= 0 || c % heads !== 0) {
    throw new ValidationError(
      `selfAttention: \`heads\` must be a positive divisor of the width ${c}, got ${heads}`,
    );
  }
  const scale = 1 / Math.sqrt(c / heads);
  const t = qkv.shape[1];
  const threads = attentionThreads(qkv.shape[0], heads, t, t, c);
  const { mode, extra } = causalMask(options, t, t, 'selfAttention');
  const masked = options.mask !== undefined;
  const inputs = [qkv, ...(masked ? [options.mask!] : []), ...extra];
  const [o, p] = execute(forwardKernel(heads, scale, mode, masked, true), inputs, threads) as [
    Tensor,
    Tensor,
  ];
  return withGrad(o, 'selfAttention', [qkv], (g) => [
    execute(backwardKernel(heads, scale, true), [qkv, p, g], threads)[0] as Tensor,
  ]);
}
