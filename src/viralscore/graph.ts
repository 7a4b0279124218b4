/**
 * Export of a trained network as one ONNX graph through the engine's graph mode, and its int8 variant
 * (weights of the larger matmuls quantised per column, activations on the fly). The scorer runs these.
 */
import onnxProto from 'onnx-proto';
import { quantizeModel, tensor, trace } from '../tensor/index.js';
import type { Tensor, TracedModel } from '../tensor/index.js';
import { leafPaths } from './model.js';
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
const INT32 = 6;
const INT64 = 7;
/** The opset of TreeEnsembleRegressor, which onnxruntime's CPU provider implements natively. */
const ML_DOMAIN = 'ai.onnx.ml';
const ML_OPSET = 3;

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
  /** Tree paths (every node compared, then a product with the leaves' paths) made one TreeEnsembleRegressor. */
  treeEnsembles: number;
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
    treeEnsembles: 0,
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
  nodes = treeEnsembles(nodes, inits, outputs, report);
  if (report.treeEnsembles > 0 && !(model.opsetImport ?? []).some((o) => o.domain === ML_DOMAIN))
    model.opsetImport = [...(model.opsetImport ?? []), { domain: ML_DOMAIN, version: ML_OPSET }];
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

/** The values of an integer initialiser (raw int32 or int64 data), else undefined. */
function intsOf(t: onnxProto.onnx.ITensorProto | undefined): number[] | undefined {
  if (!t?.rawData || t.rawData.length === 0) return undefined;
  const copy = new Uint8Array(t.rawData);
  if (t.dataType === INT32) return Array.from(new Int32Array(copy.buffer, 0, copy.byteLength / 4));
  if (t.dataType === INT64) return Array.from(new BigInt64Array(copy.buffer, 0, copy.byteLength / 8), Number);
  return undefined;
}

const sameValues = (a: ArrayLike<number> | undefined, b: ArrayLike<number>) =>
  a !== undefined &&
  a.length === b.length &&
  Array.prototype.every.call(a, (v: number, i: number) => v === b[i]);

/**
 * The tree path of the estimator's tree member (`ViralScoreNet.treeSum`: a Gather of every node's column of
 * the transposed design, one GreaterOrEqual, then a product with the leaves' paths, summed over the trees)
 * becomes one ai.onnx.ml TreeEnsembleRegressor on the design: the same leaf of each tree, found by `depth`
 * comparisons instead of comparing every node and multiplying [rows, trees, leaves] matrices. Each step
 * of the chain is checked against what `treeSum` builds (its constants included), else nothing changes.
 */
function treeEnsembles(
  nodes: onnxProto.onnx.INodeProto[],
  inits: Map<string, onnxProto.onnx.ITensorProto>,
  outputs: ReadonlySet<string>,
  report: ServingGraphReport,
): onnxProto.onnx.INodeProto[] {
  const { onnx } = onnxProto;
  const producer = new Map<string, onnxProto.onnx.INodeProto>();
  const readers = new Map<string, onnxProto.onnx.INodeProto[]>();
  for (const n of nodes) {
    for (const y of n.output ?? []) producer.set(y, n);
    for (const x of n.input ?? []) readers.set(x, [...(readers.get(x) ?? []), n]);
  }
  const plain = (n: onnxProto.onnx.INodeProto | undefined, op: string): n is onnxProto.onnx.INodeProto =>
    n !== undefined && n.opType === op && (n.domain ?? '') === '';
  // The one node reading `name`, when it is `op` and `name` is read nowhere else.
  const next = (name: string, op: string) => {
    const r = readers.get(name);
    return r?.length === 1 && !outputs.has(name) && plain(r[0], op) ? r[0] : undefined;
  };
  const attr = (n: onnxProto.onnx.INodeProto, name: string) => n.attribute?.find((a) => a.name === name);
  const isTranspose2d = (n: onnxProto.onnx.INodeProto | undefined): n is onnxProto.onnx.INodeProto =>
    plain(n, 'Transpose') && sameValues(attr(n, 'perm')?.ints?.map(Number), [1, 0]);
  const floats = (name: string) => {
    const t = inits.get(name);
    return t ? floatsOf(t) : undefined;
  };
  const replaced = new Map<onnxProto.onnx.INodeProto, onnxProto.onnx.INodeProto | null>();
  for (const gather of nodes) {
    if (!plain(gather, 'Gather') || Number(attr(gather, 'axis')?.i ?? 0) !== 0) continue;
    const transposed = producer.get(gather.input![0]);
    const columns = intsOf(inits.get(gather.input![1]));
    if (!isTranspose2d(transposed) || columns === undefined) continue;
    const compare = next(gather.output![0], 'GreaterOrEqual');
    if (compare === undefined || compare.input![0] !== gather.output![0]) continue;
    const thresholdReshape = producer.get(compare.input![1]);
    const thresholds = plain(thresholdReshape, 'Reshape')
      ? floats(thresholdReshape.input![0])
      : floats(compare.input![1]);
    const select = next(compare.output![0], 'Where');
    if (select === undefined || scalarOf(inits.get(select.input![1])) !== 1) continue;
    if (scalarOf(inits.get(select.input![2])) !== 0) continue;
    const back = next(select.output![0], 'Transpose');
    const byTree = back && isTranspose2d(back) ? next(back.output![0], 'Reshape') : undefined;
    const shape = byTree ? intsOf(inits.get(byTree.input![1])) : undefined;
    if (byTree === undefined || shape?.length !== 3 || shape[0] !== -1) continue;
    const [, count, internal] = shape;
    const depth = Math.log2(internal + 1);
    if (!Number.isInteger(depth) || columns.length !== count * internal) continue;
    if (thresholds?.length !== count * internal) continue;
    const paths = leafPaths(depth);
    const turns = next(byTree.output![0], 'MatMul');
    if (turns === undefined || !sameValues(floats(turns.input![1]), paths.sign.data)) continue;
    const withLefts = next(turns.output![0], 'Add');
    if (withLefts === undefined || !sameValues(floats(withLefts.input![1]), paths.lefts.data)) continue;
    const shifted = next(withLefts.output![0], 'Sub');
    if (shifted === undefined || scalarOf(inits.get(shifted.input![1])) !== depth - 1) continue;
    const reached = next(shifted.output![0], 'Relu');
    const weighted = reached ? next(reached.output![0], 'Mul') : undefined;
    const leaves = weighted ? floats(weighted.input![1]) : undefined;
    if (weighted === undefined || leaves?.length !== count * (internal + 1)) continue;
    const summed = next(weighted.output![0], 'ReduceSum');
    if (summed === undefined || !sameValues(intsOf(inits.get(summed.input![1])), [1, 2])) continue;
    const result = next(summed.output![0], 'Reshape');
    if (result === undefined || !sameValues(intsOf(inits.get(result.input![1])), [-1, 1])) continue;
    // Heap order, as leafPaths: node k's children are 2k + 1 (left) and 2k + 2 (right, where the
    // GreaterOrEqual holds); leaf l of a tree is node internal + l.
    const perTree = 2 * internal + 1;
    const ints = (f: (t: number, k: number) => number) =>
      Array.from({ length: count * perTree }, (_, i) => f(Math.floor(i / perTree), i % perTree));
    const leafNode = (k: number) => k >= internal;
    const INTS = onnx.AttributeProto.AttributeType.INTS;
    const FLOATS = onnx.AttributeProto.AttributeType.FLOATS;
    const ensemble: onnxProto.onnx.INodeProto = {
      name: `${result.name ?? result.output![0]}_trees`,
      opType: 'TreeEnsembleRegressor',
      domain: ML_DOMAIN,
      input: [transposed.input![0]],
      output: [result.output![0]],
      attribute: [
        { name: 'n_targets', type: onnx.AttributeProto.AttributeType.INT, i: 1 },
        { name: 'aggregate_function', type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from('SUM') },
        { name: 'nodes_treeids', type: INTS, ints: ints((t) => t) },
        { name: 'nodes_nodeids', type: INTS, ints: ints((_, k) => k) },
        {
          name: 'nodes_featureids',
          type: INTS,
          ints: ints((t, k) => (leafNode(k) ? 0 : columns[t * internal + k])),
        },
        {
          name: 'nodes_values',
          type: FLOATS,
          floats: ints((t, k) => (leafNode(k) ? 0 : thresholds[t * internal + k])),
        },
        {
          name: 'nodes_modes',
          type: onnx.AttributeProto.AttributeType.STRINGS,
          strings: ints((_, k) => (leafNode(k) ? 1 : 0)).map((leaf) =>
            Buffer.from(leaf === 1 ? 'LEAF' : 'BRANCH_GTE'),
          ),
        },
        { name: 'nodes_truenodeids', type: INTS, ints: ints((_, k) => (leafNode(k) ? 0 : 2 * k + 2)) },
        { name: 'nodes_falsenodeids', type: INTS, ints: ints((_, k) => (leafNode(k) ? 0 : 2 * k + 1)) },
        {
          name: 'target_treeids',
          type: INTS,
          ints: Array.from({ length: count * (internal + 1) }, (_, i) => Math.floor(i / (internal + 1))),
        },
        {
          name: 'target_nodeids',
          type: INTS,
          ints: Array.from({ length: count * (internal + 1) }, (_, i) => internal + (i % (internal + 1))),
        },
        { name: 'target_ids', type: INTS, ints: new Array<number>(count * (internal + 1)).fill(0) },
        { name: 'target_weights', type: FLOATS, floats: Array.from(leaves) },
      ],
    };
    for (const n of [
      gather,
      compare,
      select,
      back!,
      byTree,
      turns,
      withLefts,
      shifted,
      reached!,
      weighted,
      summed,
    ])
      replaced.set(n, null);
    replaced.set(result, ensemble);
    report.treeEnsembles++;
  }
  if (replaced.size === 0) return nodes;
  return nodes.flatMap((n) => {
    const r = replaced.get(n);
    return r === undefined ? [n] : r === null ? [] : [r];
  });
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
