/**
 * The one file that talks to onnxruntime. It uses onnxruntime-node's native binding directly
 * (`onnxruntime-node/dist/binding.js`), whose `InferenceSession.run` is synchronous: the public
 * `InferenceSession.run` wraps the same call in `setImmediate` + a Promise, which costs about twice the
 * per-op overhead and would make the tensor API asynchronous. The binding is undocumented, so
 * onnxruntime-node is pinned in package.json and `ort-backend.test.ts` checks that the synchronous run
 * returns what the public API returns.
 */
import { createRequire } from 'node:module';
import onnxProto from 'onnx-proto';
import { TkllmError, ValidationError } from '../core/index.js';

const { onnx } = onnxProto;
const require = createRequire(import.meta.url);

/** Element types a tensor can hold; `bool` is stored as bytes (0 or 1). */
export type DType = 'float32' | 'int32' | 'int64' | 'bool' | 'int8' | 'uint8';

/** The typed array behind each element type. */
export type TypedArrayOf<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'int32'
    ? Int32Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int8'
        ? Int8Array
        : Uint8Array;

/** Any typed array a tensor may hold. */
export type TensorData = Float32Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

/** A tensor value as the backend sees it: element type, dimensions and a typed array (shared, not copied). */
export interface RawTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

/** An ONNX attribute value; a float that happens to be whole is written `{ float: 1 }`. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };

/** One node of a kernel graph, with names local to the kernel. */
export interface KernelNode {
  readonly op: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  readonly domain?: string;
}

/**
 * A small ONNX graph run as one session: a single op or a fused subgraph. `inputs` and `outputs` name
 * the graph's values in order; `consts` are scalar or small vector float/int64 initialisers.
 * Build kernels once (module-level constants or memoised by attributes): `key` is the cache key.
 */
export interface Kernel {
  /** Content-derived identity: equal descriptions get the same key, a short string. */
  readonly key: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly outputTypes?: readonly DType[];
  readonly nodes: readonly KernelNode[];
  readonly consts?: Readonly<Record<string, RawTensor>>;
}

const kernelIds = new Map<string, string>();

/** Describes a kernel; its `key` is derived from its content so equal descriptions share sessions. */
export function defineKernel(spec: Omit<Kernel, 'key'>): Kernel {
  const content = JSON.stringify(spec, (_k, v: unknown) =>
    ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number | bigint>, Number) : v,
  );
  // The session cache key is built on every op call, so it uses a short id rather than the content.
  let id = kernelIds.get(content);
  if (id === undefined) {
    id = `k${kernelIds.size}`;
    kernelIds.set(content, id);
  }
  return { ...spec, key: id };
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(
    feeds: Record<string, NativeTensor>,
    fetches: Record<string, null>,
    options: object,
  ): Record<string, { type: string; dims: readonly number[]; data: TensorData }>;
  dispose(): void;
  endProfiling(): string;
}
interface NativeTensor {
  type: string;
  dims: readonly number[];
  data: TensorData;
  location: 'cpu';
}
interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

let native: NativeBinding | undefined;
function binding(): NativeBinding['binding'] {
  if (native === undefined) {
    native = require('onnxruntime-node/dist/binding.js') as NativeBinding;
    native.initOrt();
  }
  return native.binding;
}

const ELEM_TYPE: Record<DType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
  int8: onnx.TensorProto.DataType.INT8,
  uint8: onnx.TensorProto.DataType.UINT8,
};

/** The ONNX opsets every kernel and traced graph is written against. */
export const OPSETS = [
  { domain: '', version: 21 },
  { domain: 'com.microsoft', version: 1 },
  // TreeEnsembleRegressor, which the estimator's served graph uses for its tree member.
  { domain: 'ai.onnx.ml', version: 3 },
];

/** Builds an ONNX AttributeProto from a plain value. */
export function attributeProto(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: T.INT, i: value } : { name, type: T.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('float' in value) return { name, type: T.FLOAT, f: value.float };
  return { name, type: T.FLOATS, floats: value.floats };
}

/** Builds an ONNX TensorProto initialiser holding a copy of `t`. */
export function tensorProto(name: string, t: RawTensor): onnxProto.onnx.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice();
  return { name, dims: [...t.shape], dataType: ELEM_TYPE[t.dtype], rawData: bytes };
}

/** Builds a ValueInfoProto; `dims` of `undefined` leaves the shape unknown, strings are symbolic dims. */
export function valueInfo(
  name: string,
  dtype: DType,
  dims?: readonly (number | string)[],
): onnxProto.onnx.IValueInfoProto {
  const shape =
    dims === undefined
      ? undefined
      : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType: ELEM_TYPE[dtype], ...(shape ? { shape } : {}) } } };
}

/** Builds a NodeProto. */
export function nodeProto(n: KernelNode, name: string): onnxProto.onnx.INodeProto {
  return {
    name,
    opType: n.op,
    domain: n.domain ?? '',
    input: [...n.inputs],
    output: [...n.outputs],
    attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attributeProto(k, v)),
  };
}

/** Encodes a graph into ModelProto bytes. */
export function encodeModel(graph: onnxProto.onnx.IGraphProto): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 10,
    producerName: 'tkllm',
    opsetImport: OPSETS,
    graph,
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Decodes ModelProto bytes (used by quantisation to rewrite a traced graph). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** Session options; measured on the 2-core machine (see the module report in ort-backend.test.ts). */
function sessionOptions(threads: number, arena: boolean, profilePrefix?: string): object {
  return {
    // onnxruntime's per-node profile (a JSON trace file starting with this path), for diagnostics.
    ...(profilePrefix === undefined ? {} : { enableProfiling: true, profileFilePrefix: profilePrefix }),
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Failures are rethrown as ValidationError with the shapes; onnxruntime's own log would repeat them.
    logSeverityLevel: 4,
    graphOptimizationLevel: 'all',
    // The arena and memory patterns keep per-shape buffers alive; with shapes that vary per call they
    // only grow, and outputs are copied out to JS anyway.
    // A graph that always runs at the same shapes (a traced training step) turns them on: its
    // intermediates then come from one planned block instead of fresh pages per op.
    enableCpuMemArena: arena,
    enableMemPattern: arena,
    // No spinning: every multi-threaded session has its own pool, and a worker left spinning after
    // one op competes for the second core with the workers of the next op's pool. Measured over
    // training steps of the reference GPT with 2 threads: 800 ms of CPU per step with spinning,
    // 360 ms without (330 ms with one thread); waking a blocked worker costs microseconds per op.
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
}

/** A loaded ONNX model run synchronously; inputs are passed without copying. */
export class OrtSession {
  private readonly session: NativeSession;
  private readonly fetches: Record<string, null>;

  constructor(
    model: Uint8Array,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    threads = 1,
    options: { arena?: boolean; profilePrefix?: string } = {},
  ) {
    this.session = new (binding().InferenceSession)();
    try {
      this.session.loadModel(
        model.buffer as ArrayBuffer,
        model.byteOffset,
        model.byteLength,
        sessionOptions(threads, options.arena ?? false, options.profilePrefix),
      );
    } catch (error) {
      throw new TkllmError('INTERNAL', `onnxruntime could not load a model: ${String(error)}`, {
        cause: error,
      });
    }
    this.fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  }

  /**
   * Runs the model on `inputs` (in `inputNames` order) and returns the outputs in `outputNames` order.
   * `into` may give preallocated tensors of the exact output shapes (null where onnxruntime should
   * allocate): onnxruntime then writes those outputs in place, with no copy into a new JS array.
   */
  run(inputs: readonly RawTensor[], into?: readonly (RawTensor | null)[]): RawTensor[] {
    const feeds: Record<string, NativeTensor> = {};
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i];
      feeds[this.inputNames[i]] = { type: t.dtype, dims: t.shape, data: t.data, location: 'cpu' };
    }
    let fetches: Record<string, NativeTensor | null> = this.fetches;
    if (into !== undefined) {
      fetches = {};
      for (let i = 0; i < this.outputNames.length; i++) {
        const t = into[i];
        fetches[this.outputNames[i]] =
          t === null || t === undefined
            ? null
            : { type: t.dtype, dims: t.shape, data: t.data, location: 'cpu' };
      }
    }
    const result = this.session.run(feeds, fetches as Record<string, null>, {});
    return this.outputNames.map((n, i) => {
      const given = into?.[i];
      if (given !== null && given !== undefined) return given;
      const r = result[n];
      return { dtype: r.type as DType, shape: r.dims, data: r.data };
    });
  }

  /** Stops onnxruntime's profiler (sessions made with `profilePrefix`) and returns the trace file. */
  endProfiling(): string {
    return this.session.endProfiling();
  }

  /** Frees the native session. */
  dispose(): void {
    this.session.dispose();
  }
}

const sessions = new Map<string, OrtSession>();

function buildKernelModel(kernel: Kernel, inputs: readonly RawTensor[]): Uint8Array {
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'kernel',
    node: kernel.nodes.map((n, i) => nodeProto(n, `n${i}`)),
    input: kernel.inputs.map((name, i) =>
      valueInfo(
        name,
        inputs[i].dtype,
        inputs[i].shape.map((_, d) => `${name}_${d}`),
      ),
    ),
    output: kernel.outputs.map((name, i) => valueInfo(name, kernel.outputTypes?.[i] ?? 'float32')),
    initializer: Object.entries(kernel.consts ?? {}).map(([name, t]) => tensorProto(name, t)),
  };
  return encodeModel(graph);
}

/** How many sessions are cached (for tests and diagnostics). */
export function cachedSessionCount(): number {
  return sessions.size;
}

/**
 * Runs `kernel` on `inputs`, from a session cached by kernel, input dtypes and ranks (all dims are
 * symbolic, so one session serves every shape). `threads` picks onnxruntime's intra-op pool size.
 */
export function runKernel(kernel: Kernel, inputs: readonly RawTensor[], threads = 1): RawTensor[] {
  if (inputs.length !== kernel.inputs.length) {
    throw new TkllmError('INTERNAL', `kernel expects ${kernel.inputs.length} inputs, got ${inputs.length}`);
  }
  let key = kernel.key + '|' + threads;
  for (const t of inputs) key += '|' + t.dtype + t.shape.length;
  let session = sessions.get(key);
  if (session === undefined) {
    session = new OrtSession(buildKernelModel(kernel, inputs), kernel.inputs, kernel.outputs, threads);
    sessions.set(key, session);
  }
  try {
    return session.run(inputs);
  } catch (error) {
    const shapes = inputs.map((t) => `[${t.shape.join(', ')}]`).join(', ');
    const op = kernel.nodes.map((n) => n.op).join('+');
    throw new ValidationError(`${op} cannot run on inputs of shapes ${shapes}: ${String(error)}`, {
      cause: error,
    });
  }
}
