/** Small helpers to describe kernels and their constant inputs compactly. */
import type { AttrValue, Kernel, KernelNode, RawTensor } from './ort-backend.js';
import { defineKernel } from './ort-backend.js';

/** One kernel node. */
export function node(
  op: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attrs?: Record<string, AttrValue>,
  domain?: string,
): KernelNode {
  return { op, inputs, outputs, ...(attrs ? { attrs } : {}), ...(domain ? { domain } : {}) };
}

/** A float32 scalar constant. */
export function f32(value: number): RawTensor {
  return { dtype: 'float32', shape: [], data: new Float32Array([value]) };
}

/** An int64 vector constant. */
export function i64(values: readonly number[]): RawTensor {
  return { dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values, (v) => BigInt(v)) };
}

const memo = new Map<string, Kernel>();

/**
 * Returns the kernel built by `build` for `id`, building it once: ops call this with an id that
 * encodes their attributes, so the common path does one Map lookup.
 */
export function cachedKernel(id: string, build: () => Omit<Kernel, 'key'>): Kernel {
  let k = memo.get(id);
  if (k === undefined) {
    k = defineKernel(build());
    memo.set(id, k);
  }
  return k;
}

/** A kernel of a single node whose inputs are x0..xn-1 and outputs y0..ym-1. */
export function singleNode(
  op: string,
  nInputs: number,
  attrs?: Record<string, AttrValue>,
  options: { domain?: string; nOutputs?: number; outputTypes?: Kernel['outputTypes'] } = {},
): Kernel {
  const id = `${options.domain ?? ''}:${op}:${nInputs}:${options.nOutputs ?? 1}:${JSON.stringify(attrs ?? {})}:${JSON.stringify(options.outputTypes ?? [])}`;
  return cachedKernel(id, () => {
    const inputs = Array.from({ length: nInputs }, (_, i) => `x${i}`);
    const outputs = Array.from({ length: options.nOutputs ?? 1 }, (_, i) => `y${i}`);
    return {
      inputs,
      outputs,
      nodes: [node(op, inputs, outputs, attrs, options.domain)],
      ...(options.outputTypes ? { outputTypes: options.outputTypes } : {}),
    };
  });
}
