/**
 * Graph mode: runs a forward function once eagerly while recording every kernel it executes, and
 * writes the recording as one ONNX graph (parameters and captured constants as initialisers, named
 * inputs with symbolic dims). The graph runs as one session; this is how models are exported and served.
 */
import type onnxProto from 'onnx-proto';
import { ValidationError } from '../core/index.js';
import { setRecorder } from './exec.js';
import type { KernelRecorder } from './exec.js';
import { noGrad } from './grad-mode.js';
import type { DType, Kernel } from './ort-backend.js';
import { OrtSession, encodeModel, nodeProto, tensorProto, valueInfo } from './ort-backend.js';
import type { Tensor } from './tensor.js';
import { fromRaw } from './tensor.js';

/** Options of `trace`. */
export interface TraceOptions {
  /** Names of the graph inputs, in argument order (default input0, input1, ...). */
  inputNames?: readonly string[];
  /** Names of the graph outputs (default output0, ...). */
  outputNames?: readonly string[];
  /**
   * Dims of each input: a number fixes a dim, a string names a symbolic one. By default every dim is
   * symbolic, so a model traced at one batch and sequence length serves any other.
   */
  dims?: Readonly<Record<string, readonly (number | string)[]>>;
}

/** A traced model: ONNX bytes and the names of its inputs and outputs. */
export interface TracedModel {
  readonly bytes: Uint8Array;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

class GraphRecorder implements KernelRecorder {
  readonly names = new Map<Tensor<DType>, string>();
  readonly nodes: onnxProto.onnx.INodeProto[] = [];
  readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private counter = 0;

  record(kernel: Kernel, inputs: readonly Tensor<DType>[], outputs: readonly Tensor<DType>[]): void {
    const prefix = `k${this.counter++}_`;
    const local = new Map<string, string>();
    kernel.inputs.forEach((name, i) => local.set(name, this.nameOf(inputs[i])));
    for (const [name, value] of Object.entries(kernel.consts ?? {})) {
      this.initializers.push(tensorProto(prefix + name, value));
      local.set(name, prefix + name);
    }
    kernel.outputs.forEach((name, i) => {
      const global = `${prefix}${name}`;
      local.set(name, global);
      this.names.set(outputs[i], global);
    });
    kernel.nodes.forEach((n, i) => {
      const rename = (x: string): string => (x === '' ? '' : (local.get(x) ?? prefix + x));
      this.nodes.push(
        nodeProto({ ...n, inputs: n.inputs.map(rename), outputs: n.outputs.map(rename) }, `${prefix}n${i}`),
      );
    });
  }

  /** The graph name of a tensor; one never seen before is a captured constant (e.g. a parameter). */
  nameOf(t: Tensor<DType>): string {
    let name = this.names.get(t);
    if (name === undefined) {
      name = `c${this.initializers.length}${t.isParameter ? '_param' : ''}`;
      this.initializers.push(tensorProto(name, t));
      this.names.set(t, name);
    }
    return name;
  }
}

/**
 * Records `fn` applied to `inputs` as one ONNX graph. Ops on tensors not derived from the inputs are
 * folded in as constants; write reshapes with 0/-1 for batch and sequence dims to keep them dynamic.
 * @example const model = trace((x) => mlp.forward(x), [example], { inputNames: ['x'], outputNames: ['y'] });
 */
export function trace(
  fn: (...inputs: Tensor<DType>[]) => Tensor<DType> | readonly Tensor<DType>[],
  inputs: readonly Tensor<DType>[],
  options: TraceOptions = {},
): TracedModel {
  const inputNames = options.inputNames ?? inputs.map((_, i) => `input${i}`);
  if (inputNames.length !== inputs.length) {
    throw new ValidationError(`trace: ${inputs.length} inputs but ${inputNames.length} input names`);
  }
  const recorder = new GraphRecorder();
  inputs.forEach((t, i) => recorder.names.set(t, inputNames[i]));
  const previous = setRecorder(recorder);
  let result: Tensor<DType> | readonly Tensor<DType>[];
  try {
    result = noGrad(() => fn(...inputs));
  } finally {
    setRecorder(previous);
  }
  const outputs = Array.isArray(result) ? (result as readonly Tensor<DType>[]) : [result as Tensor<DType>];
  const outputNames = options.outputNames ?? outputs.map((_, i) => `output${i}`);
  if (outputNames.length !== outputs.length) {
    throw new ValidationError(`trace: ${outputs.length} outputs but ${outputNames.length} output names`);
  }
  // Each graph output is an Identity of the recorded value, so names are the caller's and an output
  // that is an input or a constant still works.
  outputs.forEach((t, i) => {
    recorder.nodes.push({
      name: `out${i}`,
      opType: 'Identity',
      input: [recorder.nameOf(t)],
      output: [outputNames[i]],
    });
  });
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'tkllm',
    node: recorder.nodes,
    initializer: recorder.initializers,
    input: inputs.map((t, i) => {
      const name = inputNames[i];
      return valueInfo(name, t.dtype, options.dims?.[name] ?? t.shape.map((_, d) => `${name}_${d}`));
    }),
    output: outputs.map((t, i) => valueInfo(outputNames[i], t.dtype)),
  };
  return { bytes: encodeModel(graph), inputNames, outputNames };
}

/** A traced (or any ONNX) model loaded as one session. */
export class GraphSession {
  private readonly session: OrtSession;

  /** Loads `model`; `threads` is onnxruntime's intra-op pool size (2 suits this project's machine). */
  constructor(
    readonly model: TracedModel,
    threads = 2,
  ) {
    this.session = new OrtSession(model.bytes, model.inputNames, model.outputNames, threads);
  }

  /** Runs the graph: inputs in `model.inputNames` order, outputs in `model.outputNames` order. */
  run(inputs: readonly Tensor<DType>[]): Tensor<DType>[] {
    return this.session.run(inputs).map((r) => fromRaw<DType>(r));
  }

  /** Frees the native session. */
  dispose(): void {
    this.session.dispose();
  }
}
