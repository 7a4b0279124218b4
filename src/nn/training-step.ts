/**
 * Graph-mode training steps: the forward and backward of a loss traced once into one ONNX graph and
 * then run as one onnxruntime session per step, instead of one session call per op. Same gradients as
 * `loss.backward()`; the optimiser step stays as it is.
 */
import { ValidationError } from '../core/index.js';
import { Tensor, TrainingStepSession, configureEngine, traceTrainingStep } from '../tensor/index.js';
import type { DType } from '../tensor/index.js';

/** Options of `TrainingStep`. */
export interface TrainingStepOptions {
  /** onnxruntime intra-op threads for the step (default: the engine's `maxThreads`). */
  threads?: number;
}

interface Compiled {
  session: TrainingStepSession;
  /** Indices into the parameter list of the parameters that get a gradient. */
  gradientOf: readonly number[];
  /** Gradient arrays onnxruntime writes into; a parameter whose `.grad` is null takes its array. */
  buffers: Float32Array[];
}

/**
 * Runs `lossFn` and its backward as one traced graph per input signature (shapes and dtypes, and
 * which parameters are trainable): the first call at a new signature traces it (one eager step),
 * later calls run the graph. `run` returns the loss and leaves the gradients in `.grad` like
 * `backward()`: set where `.grad` was null, added where it held one. The loss function must be
 * deterministic given its inputs and the parameters (no dropout: tracing it throws), and every
 * parameter it uses must be in `params` (frozen ones included; tracing throws otherwise).
 * @example
 * const step = new TrainingStep(model.parameters(), (x, y) => mean(crossEntropy(model.logits2d(x), y)));
 * const loss = step.run(x, y); optimizer.step(); optimizer.zeroGrad();
 */
export class TrainingStep<I extends Tensor<DType>[] = Tensor<DType>[]> {
  private readonly params: Tensor[];
  private readonly compiled = new Map<string, Compiled>();

  constructor(
    params: Iterable<Tensor>,
    private readonly lossFn: (...inputs: I) => Tensor,
    private readonly options: TrainingStepOptions = {},
  ) {
    this.params = [...params];
    if (this.params.length === 0) throw new ValidationError('TrainingStep needs at least one parameter');
  }

  /** Runs one forward and backward on `inputs`; returns the loss. */
  run(...inputs: I): number {
    let key = '';
    for (const t of inputs) key += `${t.dtype}[${t.shape.join(',')}]`;
    key += '|';
    for (const p of this.params) key += p.requiresGrad ? '1' : '0';
    let c = this.compiled.get(key);
    if (c === undefined) {
      const traced = traceTrainingStep(
        this.lossFn as (...xs: Tensor<DType>[]) => Tensor,
        inputs,
        this.params,
      );
      const threads = this.options.threads ?? configureEngine({}).maxThreads;
      c = {
        session: new TrainingStepSession(traced, threads),
        gradientOf: traced.gradientOf,
        buffers: traced.gradientOf.map((i) => new Float32Array(this.params[i].size)),
      };
      this.compiled.set(key, c);
    }
    // A parameter without a gradient takes a fresh array (it owns it from here on, as after
    // backward()); one that holds a gradient gets this step's added in.
    const targets = c.gradientOf.map((i, k) => {
      const p = this.params[i];
      if (p.grad === null) c.buffers[k] = new Float32Array(p.size);
      return c.buffers[k];
    });
    const loss = c.session.run(inputs, this.params, targets);
    c.gradientOf.forEach((i, k) => {
      const p = this.params[i];
      if (p.grad === null) {
        p.grad = new Tensor(targets[k], p.shape, 'float32');
      } else {
        const acc = p.grad.data;
        const g = targets[k];
        for (let j = 0; j < acc.length; j++) acc[j] += g[j];
      }
    });
    return loss;
  }

  /** Frees the traced sessions. */
  dispose(): void {
    for (const c of this.compiled.values()) c.session.dispose();
    this.compiled.clear();
  }
}
