/**
 * Turns texts into dense vectors for the `embedding` group. The default is the lake's own PPMI + SVD encoder
 * (`fitPpmiEncoder`); a user can point at an ONNX sentence encoder of their own (`OnnxTextEncoder`).
 */
export interface TextEncoder {
  /** Kind and fingerprint: changes whenever the vectors would change, so stored embeddings are recomputed. */
  readonly id: string;
  readonly dimensions: number;
  /** One vector of `dimensions` per text. */
  encode(texts: readonly string[]): Promise<Float32Array[]>;
}
