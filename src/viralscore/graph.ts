/**
 * Export of a trained network as one ONNX graph through the engine's graph mode, and its int8 variant
 * (weights of the larger matmuls quantised per column, activations on the fly). The scorer runs these.
 */
import onnxProto from 'onnx-proto';
import { quantizeModel, tensor, trace } from '../tensor/index.js';
import type { Tensor, TracedModel } from '../tensor/index.js';
import type { ViralScoreModel } from './model.js';

/** Input and output names of the exported graph. */
export const graphInputs = ['x', 'present'] as const;
export const graphOutputs = ['v', 'subscores', 'contributions'] as const;

/** A traced model from stored bytes. */
export function tracedFromBytes(bytes: Uint8Array): TracedModel {
  return { bytes, inputNames: [...graphInputs], outputNames: [...graphOutputs] };
}

/** Traces `net` into a graph with a dynamic batch dimension, and quantises a copy to int8. */
export function exportGraphs(net: ViralScoreModel): { graph: TracedModel; graphInt8: TracedModel } {
  const groups = net.config.groupDims.length;
  const rows = 2;
  const x = tensor(new Float32Array(rows * net.inputWidth), [rows, net.inputWidth]);
  const present = tensor(new Float32Array(rows * groups).fill(1), [rows, groups]);
  net.eval();
  const graph = trace(
    (a, b) => {
      const out = net.forward(a as Tensor, b as Tensor);
      return [out.v, out.subscores, out.contributions];
    },
    [x, present],
    {
      inputNames: [...graphInputs],
      outputNames: [...graphOutputs],
      dims: { x: ['rows', net.inputWidth], present: ['rows', groups] },
    },
  );
  return { graph, graphInt8: quantizeModel(graph, { bits: 8 }).model };
}

const FLOAT = 1;
const INT64 = 7;

function floatsOf(t: onnxProto.onnx.ITensorProto): Float32Array | undefined {
  if (t.dataType !== FLOAT) return undefined;
  if (t.rawData && t.rawData.length > 0) {
    // An aligned copy: decoded bytes may be a view at any offset of the model.
    const copy = new Uint8Array(t.rawData);
    return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
  }
  return Float32Array.from(t.floatData ?? []);
}

function floatInit(name: string, dims: readonly number[], data: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims: [...dims], dataType: FLOAT, rawData: new Uint8Array(data.buffer.slice(0)) };
}

/** What `servingGraph` changed. */
export interface ServingGraphReport {
  /** Initialisers dropped because an identical one (same type, shape and bytes) exists. */
  sharedInitializers: number;
  /** Matmuls by a constant block-diagonal matrix turned into one matmul per block. */
  blockMatMuls: number;
  /** Multiply-adds per row before and after, over the rewritten matmuls. */
  macsBefore: number;
  macsAfter: number;
  /** relu(z) - relu(z - 1) pieces computed as one Clip(z, 0, 1). */
  clips: number;
}

/**
 * Row and column ranges of the diagonal blocks of a K x N matrix (nonzero pattern `nz`), or undefined when
 * it has fewer than two blocks. Blocks tile the rows and the columns in order; zero rows and columns join
 * a neighbour, so the product with the blocks equals the product with the whole matrix exactly.
 */
function diagonalBlocks(
  nz: (r: number, c: number) => boolean,
  k: number,
  n: number,
): { rows: [number, number]; cols: [number, number] }[] | undefined {
  const blocks: { r0: number; c0: number; c1: number }[] = [];
  for (let r = 0; r < k; r++) {
    let lo = -1;
    let hi = -1;
    for (let c = 0; c < n; c++)
      if (nz(r, c)) {
        if (lo < 0) lo = c;
        hi = c;
      }
    if (lo < 0) continue; // a zero row multiplies nothing: it stays with the block it falls in
    const last = blocks.at(-1);
    if (last === undefined || lo > last.c1) blocks.push({ r0: r, c0: lo, c1: hi });
    else {
      // Overlaps the current block: widen it, and merge earlier blocks it now reaches.
      last.c0 = Math.min(last.c0, lo);
      last.c1 = Math.max(last.c1, hi);
      while (blocks.length > 1 && blocks[blocks.length - 2].c1 >= blocks[blocks.length - 1].c0) {
        const b = blocks.pop()!;
        const a = blocks[blocks.length - 1];
        a.c0 = Math.min(a.c0, b.c0);
        a.c1 = Math.max(a.c1, b.c1);
      }
    }
  }
  if (blocks.length < 2) return undefined;
  return blocks.map((b, i) => ({
    rows: [i === 0 ? 0 : b.r0, i === blocks.length - 1 ? k : blocks[i + 1].r0],
    cols: [i === 0 ? 0 : b.c0, i === blocks.length - 1 ? n : blocks[i + 1].c0],
  }));
}

/**
 * The exported graph rewritten for serving, with the same outputs:
 * - identical initialisers are shared, so onnxruntime's common-subexpression pass computes once what the
 *   ensemble's members compute alike (their piecewise-linear encoding of the same input, when their bins
 *   are equal);
 * - a MatMul by a constant block-diagonal matrix (the group encoders' weight times its 0/1 mask) becomes a
 *   Split of its input, one MatMul per block and a Concat: the same sums without the zeros, 1/groups of the
 *   multiply-adds, and blocks as plain initialisers that `quantizeModel` can quantise.
 * Products are the same float32 products onnxruntime would form; only the summation order inside a dot
 * product may differ (rounding-level differences).
 */
export function servingGraph(traced: TracedModel): { model: TracedModel; report: ServingGraphReport } {
  const { onnx } = onnxProto;
  const model = onnx.ModelProto.decode(traced.bytes);
  const graph = model.graph!;
  const report: ServingGraphReport = {
    sharedInitializers: 0,
    blockMatMuls: 0,
    macsBefore: 0,
    macsAfter: 0,
    clips: 0,
  };
  // 1. Share identical initialisers.
  const byContent = new Map<string, string>();
  const rename = new Map<string, string>();
  const kept: onnxProto.onnx.ITensorProto[] = [];
  for (const t of graph.initializer ?? []) {
    const raw = t.rawData && t.rawData.length > 0 ? Buffer.from(t.rawData).toString('base64') : undefined;
    const key =
      raw === undefined ? undefined : `${t.dataType}|${(t.dims ?? []).map(Number).join('x')}|${raw}`;
    const same = key === undefined ? undefined : byContent.get(key);
    if (same !== undefined) {
      rename.set(t.name!, same);
      report.sharedInitializers++;
      continue;
    }
    if (key !== undefined) byContent.set(key, t.name!);
    kept.push(t);
  }
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  let nodes = (graph.node ?? []).map((n) =>
    rename.size === 0 ? n : { ...n, input: (n.input ?? []).map((x) => rename.get(x) ?? x) },
  );
  const inits = new Map(kept.map((t) => [t.name!, t]));
  // 2. Split block-diagonal constant matmuls.
  const uses = new Map<string, number>();
  for (const n of nodes) for (const x of n.input ?? []) uses.set(x, (uses.get(x) ?? 0) + 1);
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of nodes) for (const y of n.output ?? []) producer.set(y, n);
  const dropNodes = new Set<onnxProto.onnx.INodeProto>();
  const added: onnxProto.onnx.ITensorProto[] = [];
  const rewritten = nodes.flatMap((n) => {
    if (n.opType !== 'MatMul' || (n.domain ?? '') !== '') return [n];
    const bName = n.input![1];
    let weight: Float32Array | undefined;
    let dims: number[] | undefined;
    let mask: Float32Array | undefined;
    let mulNode: onnxProto.onnx.INodeProto | undefined;
    const direct = inits.get(bName);
    if (direct) {
      weight = floatsOf(direct);
      dims = (direct.dims ?? []).map(Number);
    } else {
      const p = producer.get(bName);
      const [a, b] = (p?.input ?? []).map((x) => inits.get(x));
      if (p?.opType !== 'Mul' || (p.domain ?? '') !== '' || !a || !b || uses.get(bName) !== 1) return [n];
      const da = (a.dims ?? []).map(Number);
      const db = (b.dims ?? []).map(Number);
      const fa = floatsOf(a);
      const fb = floatsOf(b);
      if (!fa || !fb || da.join('x') !== db.join('x')) return [n];
      dims = da;
      weight = new Float32Array(fa.length);
      for (let i = 0; i < fa.length; i++) weight[i] = fa[i] * fb[i];
      // A 0/1 operand is the structure; otherwise the product's own zeros are.
      mask = fb.every((v) => v === 0 || v === 1) ? fb : fa.every((v) => v === 0 || v === 1) ? fa : undefined;
      mulNode = p;
    }
    if (!weight || dims?.length !== 2) return [n];
    const [k, cols] = dims;
    // Small matrices gain less than the extra nodes cost (about as much as a few thousand multiply-adds).
    if (k * cols < 16384) return [n];
    const pattern = mask ?? weight;
    const blocks = diagonalBlocks((r, c) => pattern[r * cols + c] !== 0, k, cols);
    if (!blocks) return [n];
    const after = blocks.reduce((s, b) => s + (b.rows[1] - b.rows[0]) * (b.cols[1] - b.cols[0]), 0);
    if (after * 2 > k * cols) return [n];
    report.blockMatMuls++;
    report.macsBefore += k * cols;
    report.macsAfter += after;
    if (mulNode) dropNodes.add(mulNode);
    const name = n.name || n.output![0];
    const splitName = `${name}_blocks`;
    added.push({
      name: splitName,
      dims: [blocks.length],
      dataType: INT64,
      int64Data: blocks.map((b) => b.rows[1] - b.rows[0]),
    });
    const parts = blocks.map((_, i) => `${name}_in${i}`);
    const products = blocks.map((_, i) => `${name}_out${i}`);
    const out: onnxProto.onnx.INodeProto[] = [
      {
        name: `${name}_split`,
        opType: 'Split',
        domain: '',
        input: [n.input![0], splitName],
        output: parts,
        attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
      },
    ];
    blocks.forEach((b, i) => {
      const h = b.rows[1] - b.rows[0];
      const w = b.cols[1] - b.cols[0];
      const block = new Float32Array(h * w);
      for (let r = 0; r < h; r++)
        block.set(
          weight.subarray((b.rows[0] + r) * cols + b.cols[0], (b.rows[0] + r) * cols + b.cols[1]),
          r * w,
        );
      const wName = `${name}_w${i}`;
      added.push(floatInit(wName, [h, w], block));
      out.push({
        name: `${name}_mm${i}`,
        opType: 'MatMul',
        domain: '',
        input: [parts[i], wName],
        output: [products[i]],
      });
    });
    out.push({
      name: `${name}_concat`,
      opType: 'Concat',
      domain: '',
      input: products,
      output: [n.output![0]],
      attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }],
    });
    return out;
  });
  nodes = clipPieces(
    rewritten.filter((n) => !dropNodes.has(n)),
    inits,
    added,
    report,
  );
  // Drop nodes whose outputs nothing reads (the replaced ones), then initialisers nothing reads.
  for (let changed = true; changed;) {
    const read = new Set<string>([...outputs]);
    for (const n of nodes) for (const x of n.input ?? []) read.add(x);
    const live = nodes.filter((n) => (n.output ?? []).some((y) => read.has(y)));
    changed = live.length !== nodes.length;
    nodes = live;
  }
  const used = new Set<string>([...outputs]);
  for (const n of nodes) for (const x of n.input ?? []) used.add(x);
  const initializer = [...kept, ...added].filter((t) => used.has(t.name!));
  model.graph = onnx.GraphProto.create({ ...graph, node: nodes, initializer });
  return {
    model: { ...traced, bytes: onnx.ModelProto.encode(model).finish() },
    report,
  };
}

/** The single value of a float initialiser whose elements are all equal, else undefined. */
function scalarOf(t: onnxProto.onnx.ITensorProto | undefined): number | undefined {
  const v = t ? floatsOf(t) : undefined;
  if (!v || v.length === 0 || !v.every((x) => x === v[0])) return undefined;
  return v[0];
}

/**
 * Sub(Relu(z), Relu(Sub(z, 1))), a piece of the piecewise-linear encoding, becomes Clip(z, 0, 1): equal
 * for every z below 2^24 (z - 1 is exact there), and 1 rather than a rounding artefact above; one op on
 * rows x features x bins values instead of four.
 */
function clipPieces(
  nodes: onnxProto.onnx.INodeProto[],
  inits: Map<string, onnxProto.onnx.ITensorProto>,
  added: onnxProto.onnx.ITensorProto[],
  report: ServingGraphReport,
): onnxProto.onnx.INodeProto[] {
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  for (const n of nodes) for (const y of n.output ?? []) producer.set(y, n);
  const plain = (n: onnxProto.onnx.INodeProto | undefined, op: string) =>
    n !== undefined && n.opType === op && (n.domain ?? '') === '';
  const one = (name: string) =>
    scalarOf(inits.get(name) ?? added.find((t) => t.name === name)) === 1 &&
    (inits.get(name) ?? added.find((t) => t.name === name))!.dims!.length <= 1;
  let bounds: [string, string] | undefined;
  return nodes.map((n) => {
    if (!plain(n, 'Sub')) return n;
    const [a, b] = (n.input ?? []).map((x) => producer.get(x));
    if (!plain(a, 'Relu') || !plain(b, 'Relu')) return n;
    const z = a!.input![0];
    const shifted = producer.get(b!.input![0]);
    if (!plain(shifted, 'Sub') || shifted!.input![0] !== z || !one(shifted!.input![1])) return n;
    if (bounds === undefined) {
      bounds = ['clip_zero', 'clip_one'];
      added.push(
        { name: bounds[0], dims: [], dataType: FLOAT, rawData: new Uint8Array(new Float32Array([0]).buffer) },
        { name: bounds[1], dims: [], dataType: FLOAT, rawData: new Uint8Array(new Float32Array([1]).buffer) },
      );
    }
    report.clips++;
    return {
      name: `${n.name ?? n.output![0]}_clip`,
      opType: 'Clip',
      domain: '',
      input: [z, ...bounds],
      output: [n.output![0]],
    };
  });
}
