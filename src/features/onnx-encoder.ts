import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { IoError, ValidationError } from '../core/index.js';
import type { TextEncoder } from './embedding.js';
import { tokenize } from './text.js';

// A user's own ONNX sentence encoder behind the TextEncoder interface. It runs on onnxruntime-node's public,
// asynchronous API rather than on src/tensor: DESIGN's directions let features import only lake and core, and
// an encoder is one whole-graph inference per batch, where the engine's synchronous per-op path buys nothing.

/** Where the encoder and its tokenizer are, and how the graph names its inputs and output. */
export interface OnnxEncoderOptions {
  /** The .onnx file: inputs token ids [batch, sequence] (int64) and optionally a mask; output [batch, dim] or [batch, sequence, dim]. */
  modelPath: string;
  /**
   * Text to token ids. Default: a word-level vocabulary file (`vocabPath`, one token per line, line number =
   * id), lower-case words, unknown words to `unkToken`. Pass the model's own tokenizer for WordPiece/BPE models.
   */
  tokenize?: (text: string) => number[];
  vocabPath?: string;
  unkToken?: string;
  padId?: number;
  maxLength?: number;
  /** Graph input names; default: the first input is the ids, an input named like "mask" is the mask. */
  idsInput?: string;
  maskInput?: string;
  /** Graph output; default: the first output. */
  output?: string;
}

/**
 * A TextEncoder that runs an ONNX sentence-encoder file: token-level outputs are mean-pooled over the mask,
 * and every vector is L2-normalised like the default encoder's.
 *
 * @example
 * const encoder = await OnnxTextEncoder.load({ modelPath: 'encoder.onnx', vocabPath: 'vocab.txt' });
 * await extractFeatures(lake, { encoder });
 */
export class OnnxTextEncoder implements TextEncoder {
  private constructor(
    readonly id: string,
    readonly dimensions: number,
    private readonly session: ort.InferenceSession,
    private readonly toIds: (text: string) => number[],
    private readonly names: { ids: string; mask: string | undefined; output: string },
    private readonly padId: number,
    private readonly maxLength: number,
  ) {}

  /** Opens the model, checks its inputs and finds the vector size by encoding one text. */
  static async load(options: OnnxEncoderOptions): Promise<OnnxTextEncoder> {
    if (!existsSync(options.modelPath))
      throw new IoError(`ONNX encoder ${options.modelPath} does not exist: pass the path of an .onnx file`);
    const bytes = readFileSync(options.modelPath);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes);
    } catch (cause) {
      throw new ValidationError(
        `ONNX encoder ${options.modelPath} cannot be loaded: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
    const ids = options.idsInput ?? session.inputNames[0];
    const mask = options.maskInput ?? session.inputNames.find((n) => n !== ids && /mask/i.test(n));
    const output = options.output ?? session.outputNames[0];
    if (!ids || !session.inputNames.includes(ids) || !output || !session.outputNames.includes(output))
      throw new ValidationError(
        `ONNX encoder ${options.modelPath}: inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')} do not include the ids input "${ids}" and output "${output}"`,
      );
    const toIds = options.tokenize ?? vocabTokenizer(options);
    const hash = createHash('sha256').update(bytes);
    if (options.vocabPath) hash.update(readFileSync(options.vocabPath));
    const id = `onnx:${hash.digest('hex').slice(0, 16)}`;
    const names = { ids, mask, output };
    const probe = new OnnxTextEncoder(
      id,
      0,
      session,
      toIds,
      names,
      options.padId ?? 0,
      options.maxLength ?? 128,
    );
    const [v] = await probe.run(['dimension probe']);
    return new OnnxTextEncoder(
      id,
      v?.length ?? 0,
      session,
      toIds,
      names,
      options.padId ?? 0,
      options.maxLength ?? 128,
    );
  }

  async encode(texts: readonly string[]): Promise<Float32Array[]> {
    const out = await this.run(texts);
    for (const v of out)
      if (v.length !== this.dimensions)
        throw new ValidationError(
          `ONNX encoder gave a vector of ${v.length} values, expected ${this.dimensions}`,
        );
    return out;
  }

  private async run(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) return [];
    const seqs = texts.map((t) => this.toIds(t).slice(0, this.maxLength));
    const len = Math.max(1, ...seqs.map((s) => s.length));
    const ids = new BigInt64Array(texts.length * len).fill(BigInt(this.padId));
    const mask = new BigInt64Array(texts.length * len);
    seqs.forEach((s, i) =>
      s.forEach((id, j) => {
        ids[i * len + j] = BigInt(id);
        mask[i * len + j] = 1n;
      }),
    );
    const feeds: Record<string, ort.Tensor> = {
      [this.names.ids]: new ort.Tensor('int64', ids, [texts.length, len]),
    };
    if (this.names.mask) feeds[this.names.mask] = new ort.Tensor('int64', mask, [texts.length, len]);
    const result = (await this.session.run(feeds))[this.names.output];
    if (!result) throw new ValidationError(`ONNX encoder returned no output "${this.names.output}"`);
    const data = result.data as Float32Array;
    const dims = result.dims;
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i++) {
      let v: Float32Array;
      if (dims.length === 2) v = data.slice(i * dims[1], (i + 1) * dims[1]);
      else if (dims.length === 3) {
        // Token outputs: the mean over real tokens (the usual sentence-transformers pooling).
        const [, l, d] = dims as [number, number, number];
        v = new Float32Array(d);
        const n = Math.max(1, seqs[i].length);
        for (let j = 0; j < Math.min(n, l); j++)
          for (let k = 0; k < d; k++) v[k] = v[k] + data[(i * l + j) * d + k] / n;
      } else
        throw new ValidationError(
          `ONNX encoder output has shape [${dims.join(', ')}], expected 2 or 3 dimensions`,
        );
      let norm = 0;
      for (const x of v) norm += x * x;
      if (norm > 0) for (let k = 0; k < v.length; k++) v[k] = v[k] / Math.sqrt(norm);
      vectors.push(v);
    }
    return vectors;
  }
}

function vocabTokenizer(options: OnnxEncoderOptions): (text: string) => number[] {
  if (!options.vocabPath)
    throw new ValidationError('ONNX encoder: give `vocabPath` (one token per line) or a `tokenize` function');
  if (!existsSync(options.vocabPath)) throw new IoError(`vocabulary ${options.vocabPath} does not exist`);
  const lines = readFileSync(options.vocabPath, 'utf8').split(/\r?\n/);
  const vocab = new Map(lines.map((t, i) => [t.trim(), i]));
  const unk = vocab.get(options.unkToken ?? '[UNK]');
  if (unk === undefined)
    throw new ValidationError(
      `vocabulary ${options.vocabPath} has no unknown-word token "${options.unkToken ?? '[UNK]'}": add it or set \`unkToken\``,
    );
  return (text) => tokenize(text).map((w) => vocab.get(w) ?? unk);
}
