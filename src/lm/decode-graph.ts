import { ValidationError } from '../core/index.js';
import {
  GraphSession,
  Tensor,
  add,
  attention,
  concat,
  noGrad,
  reshape,
  split,
  trace,
  transpose,
} from '../tensor/index.js';
import type { DType } from '../tensor/index.js';
import type { KvCache, LmModel } from './model.js';

/**
 * One decoding step of the whole model traced as one ONNX graph. Eagerly a step is ~67 kernel calls,
 * each with onnxruntime's per-run overhead, and the cache grows by `concat` (a copy of every past key
 * per layer per step); here a step is one session run.
 *
 * Graph inputs: the new tokens [B, 1], styles [B], the position [1], the direct connections' context
 * rows [B, 1, directOrder - 1] (`LmModel.directContexts`; absent without them), each layer's past keys and values
 * time-major [L, B, C], then every model parameter. Time-major because the first L positions of a
 * buffer preallocated for the whole context are then one contiguous prefix, fed without a copy.
 * Parameters are inputs rather than folded-in constants so that the graph never goes stale when the
 * model trains further or loads other weights. Outputs: logits [B, 1, V] and each layer's new key and
 * value [B, 1, C], which the caller writes into its buffers at row L.
 */
function traceStep(model: LmModel, batch: number): GraphSession {
  const { dModel: c, nLayers, nHeads } = model.config;
  const params = model.parameters();
  const layers = nLayers;
  const past = 1;
  const example: Tensor<DType>[] = [
    new Tensor(new Int32Array(batch), [batch, 1], 'int32'),
    new Tensor(new Int32Array(batch), [batch], 'int32'),
    new Tensor(Int32Array.of(past), [1], 'int32'),
  ];
  const k = model.config.directOrder - 1;
  const contextNames = k > 0 ? ['contexts'] : [];
  if (k > 0) example.push(new Tensor(new Int32Array(batch * k), [batch, 1, k], 'int32'));
  const cacheNames: string[] = [];
  for (let i = 0; i < layers; i++) {
    for (const kind of ['k', 'v']) {
      example.push(new Tensor(new Float32Array(past * batch * c), [past, batch, c], 'float32'));
      cacheNames.push(`past_${kind}${i}`);
    }
  }
  const inputNames = [
    'tokens',
    'styles',
    'position',
    ...contextNames,
    ...cacheNames,
    ...params.map((_, i) => `w${i}`),
  ];
  const cacheAt = 3 + contextNames.length;
  const outputNames = ['logits'];
  for (let i = 0; i < layers; i++) outputNames.push(`new_k${i}`, `new_v${i}`);
  const fn = (...inputs: Tensor<DType>[]): Tensor<DType>[] => {
    const tokens = inputs[0] as Tensor<'int32'>;
    const styles = inputs[1] as Tensor<'int32'>;
    const position = inputs[2] as Tensor<'int32'>;
    const style = reshape(model.style.forward(styles), [batch, 1, c]);
    let x = add(add(model.tok.forward(tokens), model.pos.forward(position)), style);
    const outs: Tensor[] = [];
    model.blocks.items.forEach((block, i) => {
      const qkv = block.attn.inProj.forward(block.ln1.forward(x));
      const [q, k, v] = split(qkv, [c, c, c], 2) as [Tensor, Tensor, Tensor];
      const keys = concat([transpose(inputs[cacheAt + 2 * i] as Tensor, [1, 0, 2]), k], 1);
      const values = concat([transpose(inputs[cacheAt + 1 + 2 * i] as Tensor, [1, 0, 2]), v], 1);
      // The query is the last key position: the causal mask's diagonal follows from the shapes.
      const a = attention(q, keys, values, { heads: nHeads, causal: true });
      x = add(x, block.attn.proj.forward(a));
      x = add(x, block.mlp.forward(block.ln2.forward(x)));
      outs.push(k, v);
    });
    const contexts = k > 0 ? (inputs[3] as Tensor<'int32'>) : null;
    return [model.logitsOf(model.lnF.forward(x), contexts), ...outs];
  };
  const traced = noGrad(() =>
    trace(fn, [...example, ...params], {
      inputNames,
      outputNames,
      dims: {
        tokens: [batch, 1],
        styles: [batch],
        position: [1],
        ...Object.fromEntries(contextNames.map((n) => [n, [batch, 1, k]])),
        ...Object.fromEntries(cacheNames.map((n) => [n, ['past', batch, c]])),
      },
    }),
  );
  // One thread: the step's products are small, and a second pool would fight the sampler's thread.
  return new GraphSession(traced, 1);
}

const sessions = new WeakMap<LmModel, Map<number, GraphSession>>();

function sessionFor(model: LmModel, batch: number): GraphSession {
  let byBatch = sessions.get(model);
  if (byBatch === undefined) {
    byBatch = new Map();
    sessions.set(model, byBatch);
  }
  let session = byBatch.get(batch);
  if (session === undefined) {
    session = traceStep(model, batch);
    byBatch.set(batch, session);
  }
  return session;
}

/**
 * Decodes a batch one token per step with the traced step graph and a key/value cache preallocated for
 * the model's whole context. `prefill` runs the prompt eagerly (once per request) and moves its cache
 * into the buffers; `step` then costs one session run and a copy of B·C floats per layer.
 * @example
 * const decoder = new GraphDecoder(model, 16);
 * let logits = decoder.prefill(promptTokens, styles); // [16, T, V]
 * const next = decoder.step(nextTokens); // [16 * V] logits of the new position
 */
export class GraphDecoder {
  /** Positions held so far. */
  length = 0;
  private readonly session: GraphSession;
  private readonly keys: Float32Array[];
  private readonly values: Float32Array[];
  /** Tokens so far, [B, contextLength] row by row, for the direct connections' contexts. */
  private readonly history: Int32Array;
  private styles: Tensor<'int32'> | null = null;

  constructor(
    private readonly model: LmModel,
    private readonly batch: number,
  ) {
    this.session = sessionFor(model, batch);
    const size = model.config.contextLength * batch * model.config.dModel;
    this.keys = Array.from({ length: model.config.nLayers }, () => new Float32Array(size));
    this.values = Array.from({ length: model.config.nLayers }, () => new Float32Array(size));
    this.history = new Int32Array(batch * model.config.contextLength);
  }

  /** Logits [B, T, V] of the prompt `tokens` [B, T]; fills the cache with its keys and values. */
  prefill(tokens: Tensor<'int32'>, styles: Tensor<'int32'>): Tensor {
    const cache: KvCache = this.model.newCache();
    const logits = noGrad(() => this.model.forwardCached(tokens, styles, cache));
    const t = cache.length;
    for (let i = 0; i < this.model.config.nLayers; i++) {
      toTimeMajor(cache.keys[i]!.data, this.keys[i], this.batch, t, this.model.config.dModel, 0);
      toTimeMajor(cache.values[i]!.data, this.values[i], this.batch, t, this.model.config.dModel, 0);
    }
    const ctx = this.model.config.contextLength;
    for (let i = 0; i < this.batch; i++) this.history.set(tokens.data.subarray(i * t, (i + 1) * t), i * ctx);
    this.length = t;
    this.styles = styles;
    return logits;
  }

  /** Logits [B·V] of one new token per sequence (`tokens`, [B]), appended to the cache. */
  step(tokens: Int32Array): Float32Array {
    const { contextLength, dModel: c, nLayers } = this.model.config;
    if (this.styles === null) throw new ValidationError('GraphDecoder.step before prefill');
    if (this.length + 1 > contextLength)
      throw new ValidationError(
        `sequence length ${this.length + 1} exceeds the model's contextLength ${contextLength}`,
      );
    const b = this.batch;
    const l = this.length;
    for (let i = 0; i < b; i++) this.history[i * contextLength + l] = tokens[i];
    const contexts = this.model.directContexts(this.history, b, contextLength, l, l + 1);
    const inputs: Tensor<DType>[] = [
      new Tensor(tokens, [b, 1], 'int32'),
      this.styles,
      new Tensor(Int32Array.of(l), [1], 'int32'),
      ...(contexts === null ? [] : [contexts]),
    ];
    for (let i = 0; i < nLayers; i++) {
      inputs.push(new Tensor(this.keys[i].subarray(0, l * b * c), [l, b, c], 'float32'));
      inputs.push(new Tensor(this.values[i].subarray(0, l * b * c), [l, b, c], 'float32'));
    }
    inputs.push(...this.model.parameters());
    const [logits, ...kv] = this.session.run(inputs);
    for (let i = 0; i < nLayers; i++) {
      // [B, 1, C] is already the layout of one time-major row.
      this.keys[i].set(kv[2 * i].data as Float32Array, l * b * c);
      this.values[i].set(kv[2 * i + 1].data as Float32Array, l * b * c);
    }
    this.length = l + 1;
    return logits.data as Float32Array;
  }
}

/** Writes batch-major [B, T, C] into time-major rows from `at` of `target` ([ctx, B, C]). */
function toTimeMajor(
  source: Float32Array,
  target: Float32Array,
  b: number,
  t: number,
  c: number,
  at: number,
): void {
  for (let j = 0; j < t; j++)
    for (let i = 0; i < b; i++)
      target.set(source.subarray((i * t + j) * c, (i * t + j + 1) * c), ((at + j) * b + i) * c);
}
