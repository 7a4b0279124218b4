/**
 * Graph mode: runs a forward function once eagerly while recording every kernel it executes, and
 * writes the recording as one ONNX graph (parameters and captured constants as initialisers, named
 * inputs with symbolic dims). The graph runs as one session; this is how models are exported and served.
 */
import type onnxProto from 'onnx-proto';
import { ValidationError } from '../core/index.js';
import { execute1, setRecorder } from './exec.js';
import { singleNode } from './kernels.js';
import type { KernelRecorder } from './exec.js';
import { enableGrad, noGrad } from './grad-mode.js';
import type { DType, Kernel, RawTensor } from './ort-backend.js';
import { OrtSession, encodeModel, nodeProto, tensorProto, valueInfo } from './ort-backend.js';
import type { Tensor } from './tensor.js';
import { fromRaw, gradientsOf } from './tensor.js';

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
  constructor(readonly refusesRandomness = false) {}
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
      if (this.refusesRandomness && t.isParameter) {
        // A training step's parameters are inputs: one folded in as a constant would go stale.
        throw new ValidationError(
          `traceTrainingStep: the loss uses a parameter [${t.shape.join(', ')}] that is not in the parameter list`,
        );
      }
      name = `c${this.initializers.length}${t.isParameter ? '_param' : ''}`;
      this.initializers.push(tensorProto(name, t));
      this.names.set(t, name);
    }
    return name;
  }
}

/**
 * Makes each graph output an Identity of its recorded value, so names are the caller's and an output that
 * is an input or a constant still works.
 */
function nameOutputs(
  recorder: GraphRecorder,
  outputs: readonly Tensor<DType>[],
  outputNames: readonly string[],
): void {
  outputs.forEach((t, i) => {
    recorder.nodes.push({
      name: `out${i}`,
      opType: 'Identity',
      input: [recorder.nameOf(t)],
      output: [outputNames[i]],
    });
  });
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
  nameOutputs(recorder, outputs, outputNames);
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

  /**
   * Loads `model`; `threads` is onnxruntime's intra-op pool size (2 suits this project's machine).
   * `arena` keeps onnxruntime's memory arena and per-shape memory plans: faster where the graph runs
   * at a few fixed shapes, but its memory grows with every new shape, so it is off by default.
   */
  constructor(
    readonly model: TracedModel,
    threads = 2,
    options: { arena?: boolean } = {},
  ) {
    this.session = new OrtSession(model.bytes, model.inputNames, model.outputNames, threads, options);
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

/** A traced training step: forward and backward of a loss as one graph (see `traceTrainingStep`). */
export interface TracedTrainingStep extends TracedModel {
  /** For each graph output after `loss`, the index of the parameter whose gradient it is. */
  readonly gradientOf: readonly number[];
  /** The shapes of the graph's outputs (`loss` first); every dim is fixed. */
  readonly outputShapes: readonly (readonly number[])[];
}

/**
 * Records one training step, the forward of `lossFn` on `inputs` and the reverse-mode sweep from its
 * one-element loss, as one ONNX graph whose inputs are `inputs` then `params` and whose outputs are
 * `loss` then the gradient of each parameter that receives one. The step runs eagerly once while it
 * is recorded; every dim is fixed at the traced shapes. Ops that draw random numbers in JS (dropout)
 * refuse to be traced, since their draws would be frozen into the graph.
 */
export function traceTrainingStep(
  lossFn: (...inputs: Tensor<DType>[]) => Tensor,
  inputs: readonly Tensor<DType>[],
  params: readonly Tensor[],
): TracedTrainingStep {
  const recorder = new GraphRecorder(true);
  const inputNames = [...inputs.map((_, i) => `input${i}`), ...params.map((_, i) => `param${i}`)];
  [...inputs, ...params].forEach((t, i) => recorder.names.set(t, inputNames[i]));
  const grads = new Map<Tensor<DType>, Tensor>();
  const addKernel = singleNode('Add', 2);
  const previous = setRecorder(recorder);
  let loss: Tensor;
  try {
    loss = enableGrad(() => lossFn(...inputs));
    if (!loss.requiresGrad || loss.size !== 1) {
      throw new ValidationError(
        `traceTrainingStep: the loss must be one element that depends on a trainable parameter, got [${loss.shape.join(', ')}]`,
      );
    }
    gradientsOf(loss, {
      leaf: (t, g) => grads.set(t, g),
      add: (a, b) => execute1(addKernel, [a, b]),
    });
  } finally {
    setRecorder(previous);
  }
  const gradientOf: number[] = [];
  const outputs: Tensor<DType>[] = [loss];
  const outputNames = ['loss'];
  params.forEach((p, i) => {
    const g = grads.get(p);
    if (g === undefined) return;
    if (g.size !== p.size) {
      throw new ValidationError(
        `traceTrainingStep: gradient [${g.shape.join(', ')}] for a parameter [${p.shape.join(', ')}]`,
      );
    }
    gradientOf.push(i);
    outputs.push(g);
    outputNames.push(`grad${i}`);
  });
  nameOutputs(recorder, outputs, outputNames);
  const all = [...inputs, ...params];
  const graph: onnxProto.onnx.IGraphProto = {
    name: 'tkllm_train_step',
    node: recorder.nodes,
    initializer: recorder.initializers,
    input: all.map((t, i) => valueInfo(inputNames[i], t.dtype, t.shape)),
    output: outputs.map((t, i) => valueInfo(outputNames[i], t.dtype, t.shape)),
  };
  return {
    bytes: encodeModel(graph),
    inputNames,
    outputNames,
    gradientOf,
    outputShapes: outputs.map((t) => [...t.shape]),
  };
}

/**
 * A traced training step loaded as one session. Its intermediates come from onnxruntime's arena, planned
 * once for the fixed shapes, and the gradients are written straight into caller-given arrays.
 */
export class TrainingStepSession {
  private readonly session: OrtSession;
  private readonly lossOut: RawTensor;

  /** `profilePrefix` turns on onnxruntime's per-node profiler (see `endProfiling`). */
  constructor(
    readonly step: TracedTrainingStep,
    threads = 2,
    options: { profilePrefix?: string } = {},
  ) {
    this.session = new OrtSession(step.bytes, step.inputNames, step.outputNames, threads, {
      arena: true,
      ...options,
    });
    this.lossOut = { dtype: 'float32', shape: step.outputShapes[0], data: new Float32Array(1) };
  }

  /**
   * Runs forward and backward: `inputs` then `params` as traced, and for each entry of
   * `step.gradientOf` an array of the parameter's size that receives its gradient. Returns the loss.
   */
  run(inputs: readonly Tensor<DType>[], params: readonly Tensor[], grads: readonly Float32Array[]): number {
    const into: RawTensor[] = [this.lossOut];
    grads.forEach((data, k) => {
      into.push({ dtype: 'float32', shape: this.step.outputShapes[k + 1], data });
    });
    this.session.run([...inputs, ...params], into);
    return this.lossOut.data[0] as number;
  }

  /** Stops the profiler of a session made with `profilePrefix`; returns the JSON trace file's path. */
  endProfiling(): string {
    return this.session.endProfiling();
  }

  /** Frees the native session. */
  dispose(): void {
    this.session.dispose();
  }
}
