/**
 * Weight quantisation of traced models: every MatMul (or FusedMatMul with transB, or Gemm without
 * transposes or scaling, as `linear` makes; its bias becomes an Add) whose right operand is a 2-D
 * float initialiser becomes an onnxruntime contrib node on integer weights. 8-bit: symmetric
 * per-column int8 weights with activations quantised on the fly (com.microsoft DynamicQuantizeMatMul).
 * 4-bit: symmetric blockwise 4-bit weights (com.microsoft MatMulNBits, zero point 8).
 */
import type onnxProto from 'onnx-proto';
import { ValidationError } from '../core/index.js';
import { attributeProto, decodeModel, encodeModel, tensorProto } from './ort-backend.js';
import type { TracedModel } from './trace.js';

/** Options of `quantizeModel`. */
export interface QuantizeOptions {
  /** 8 (int8, per output column) or 4 (blockwise). */
  bits: 8 | 4;
  /** Rows of K per 4-bit block (a power of two >= 16). */
  blockSize?: number;
  /** Weights with fewer elements stay float (quantising tiny matrices saves nothing). */
  minElements?: number;
}

/** What `quantizeModel` changed. */
export interface QuantizeResult {
  model: TracedModel;
  quantizedMatrices: number;
  floatBytes: number;
  quantizedBytes: number;
}

const FLOAT = 1;

function floatsOf(t: onnxProto.onnx.ITensorProto): Float32Array {
  if (t.rawData && t.rawData.length > 0) {
    // A fresh, aligned copy: decoded bytes may be a Buffer view at any offset of the model.
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function attrInt(n: onnxProto.onnx.INodeProto, name: string): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a ? Number(a.i ?? 0) : 0;
}
function attrFloat(n: onnxProto.onnx.INodeProto, name: string, fallback: number): number {
  const a = n.attribute?.find((x) => x.name === name);
  return a?.f ?? fallback;
}

/** Weight as W[k, n] (K rows, N columns) from an initialiser used as B or as B^T. */
function weightKN(
  values: Float32Array,
  dims: number[],
  transposed: boolean,
): { w: Float32Array; k: number; n: number } {
  const [r, c] = dims as [number, number];
  if (!transposed) return { w: values, k: r, n: c };
  const w = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) w[j * r + i] = values[i * c + j]!;
  return { w, k: c, n: r };
}

function int8Nodes(
  name: string,
  a: string,
  out: string,
  w: Float32Array,
  k: number,
  n: number,
  inits: onnxProto.onnx.ITensorProto[],
): onnxProto.onnx.INodeProto {
  const q = new Int8Array(k * n);
  const scales = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let m = 0;
    for (let i = 0; i < k; i++) m = Math.max(m, Math.abs(w[i * n + j]));
    // 7-bit range ("reduce_range" in onnxruntime's quantiser): u8 x s8 products on AVX2 without VNNI
    // saturate 16-bit pair sums with full-range weights, which wrecked some columns here.
    const s = m > 0 ? m / 63 : 1;
    scales[j] = s;
    for (let i = 0; i < k; i++) q[i * n + j] = Math.max(-63, Math.min(63, Math.round(w[i * n + j] / s)));
  }
  inits.push(
    tensorProto(`${name}_q`, { dtype: 'int8', shape: [k, n], data: q }),
    tensorProto(`${name}_scale`, { dtype: 'float32', shape: [n], data: scales }),
    tensorProto(`${name}_zp`, { dtype: 'int8', shape: [n], data: new Int8Array(n) }),
  );
  return {
    name,
    opType: 'DynamicQuantizeMatMul',
    domain: 'com.microsoft',
    input: [a, `${name}_q`, `${name}_scale`, `${name}_zp`],
    output: [out],
  };
}

function int4Nodes(
  name: string,
  a: string,
  out: string,
  w: Float32Array,
  k: number,
  n: number,
  block: number,
  inits: onnxProto.onnx.ITensorProto[],
): onnxProto.onnx.INodeProto {
  const blocks = Math.ceil(k / block);
  const blob = block / 2;
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  for (let j = 0; j < n; j++) {
    for (let b = 0; b < blocks; b++) {
      let m = 0;
      for (let i = b * block; i < Math.min(k, (b + 1) * block); i++) m = Math.max(m, Math.abs(w[i * n + j]));
      // Symmetric around the implicit zero point 8: codes 1..15 hold -7..7 steps.
      const s = m > 0 ? m / 7 : 1;
      scales[j * blocks + b] = s;
      for (let t = 0; t < block; t++) {
        const i = b * block + t;
        const code = i < k ? Math.max(0, Math.min(15, Math.round(w[i * n + j] / s) + 8)) : 8;
        const at = (j * blocks + b) * blob + (t >> 1);
        packed[at] = packed[at] | (t % 2 === 0 ? code : code << 4);
      }
    }
  }
  inits.push(
    tensorProto(`${name}_q4`, { dtype: 'uint8', shape: [n, blocks, blob], data: packed }),
    tensorProto(`${name}_scales`, { dtype: 'float32', shape: [n * blocks], data: scales }),
  );
  return {
    name,
    opType: 'MatMulNBits',
    domain: 'com.microsoft',
    input: [a, `${name}_q4`, `${name}_scales`],
    output: [out],
    attribute: [
      attributeProto('K', k),
      attributeProto('N', n),
      attributeProto('bits', 4),
      attributeProto('block_size', block),
    ],
  };
}

/**
 * Rewrites a traced model with quantised matmul weights and reports what changed.
 * @example const { model } = quantizeModel(traced, { bits: 8 });
 */
export function quantizeModel(traced: TracedModel, options: QuantizeOptions): QuantizeResult {
  const block = options.blockSize ?? 32;
  if (options.bits === 4 && (block < 16 || (block & (block - 1)) !== 0)) {
    throw new ValidationError(`quantizeModel: \`blockSize\` must be a power of two >= 16, got ${block}`);
  }
  const minElements = options.minElements ?? 1024;
  const proto = decodeModel(traced.bytes);
  const graph = proto.graph!;
  const initializer = graph.initializer ?? [];
  const graphNodes = graph.node ?? [];
  const inits = new Map(initializer.map((t) => [t.name!, t]));
  const used = new Map<string, number>();
  for (const n of graphNodes) for (const x of n.input ?? []) used.set(x, (used.get(x) ?? 0) + 1);
  const added: onnxProto.onnx.ITensorProto[] = [];
  const dropped = new Set<string>();
  let count = 0;
  let floatBytes = 0;
  const nodes = graphNodes.flatMap((n) => {
    const isMatMul = n.opType === 'MatMul' && (n.domain ?? '') === '';
    const isFused =
      n.opType === 'FusedMatMul' && attrInt(n, 'transA') === 0 && attrFloat(n, 'alpha', 1) === 1;
    const isGemm =
      n.opType === 'Gemm' &&
      (n.domain ?? '') === '' &&
      attrInt(n, 'transA') === 0 &&
      attrInt(n, 'transB') === 0 &&
      attrFloat(n, 'alpha', 1) === 1 &&
      attrFloat(n, 'beta', 1) === 1;
    if (!isMatMul && !isFused && !isGemm) return [n];
    const b = inits.get(n.input![1]);
    if (!b || b.dataType !== FLOAT || b.dims?.length !== 2) return [n];
    const dims = b.dims.map(Number);
    if (dims[0] * dims[1] < minElements) return [n];
    const { w, k, n: cols } = weightKN(floatsOf(b), dims, isFused && attrInt(n, 'transB') === 1);
    if (options.bits === 4 && k % block !== 0) return [n];
    count++;
    floatBytes += 4 * k * cols;
    if (used.get(b.name!) === 1) dropped.add(b.name!);
    const name = `${n.name ?? 'mm'}_q${options.bits}`;
    const bias = isGemm ? n.input![2] : undefined;
    const out = bias ? `${name}_product` : n.output![0];
    const product =
      options.bits === 8
        ? int8Nodes(name, n.input![0], out, w, k, cols, added)
        : int4Nodes(name, n.input![0], out, w, k, cols, block, added);
    if (!bias) return [product];
    return [product, { name: `${name}_bias`, opType: 'Add', input: [out, bias], output: [n.output![0]] }];
  });
  const quantizedBytes = added.reduce((s, t) => s + (t.rawData?.length ?? 0), 0);
  const out: onnxProto.onnx.IGraphProto = {
    ...graph,
    node: nodes,
    initializer: [...initializer.filter((t) => !dropped.has(t.name!)), ...added],
  };
  return {
    model: { bytes: encodeModel(out), inputNames: traced.inputNames, outputNames: traced.outputNames },
    quantizedMatrices: count,
    floatBytes,
    quantizedBytes,
  };
}
