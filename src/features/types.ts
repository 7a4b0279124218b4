/**
 * The contract between feature extraction and its consumers (the ViralScore estimator, guidance, the
 * server): every post, and every draft, becomes the same named groups of numbers. A group a post does not
 * have (no media file, no snapshots, no creator history) is marked absent in `present`, never zero-filled,
 * so that a model can mask it.
 */

/** The feature groups, in the order models see them. */
export const featureGroupNames = [
  'text', // length, sentences, emoji, hashtags, mentions, numbers, questions, second person, CTAs, readability
  'hook', // the first sentence: length, question/number/"you", curiosity gap, imperative, vs the creator's usual
  'emotion', // sentiment and arousal arc: start, peak, swing, end
  'embedding', // dense text vector learned from the lake's corpus (or a user's ONNX encoder)
  'trend', // hashtag and sound trend strength before the post's time
  'replicability', // template, sound and challenge reuse
  'creator', // time of posting and the creator's history before the post
  'behaviour', // early engagement where snapshots exist
  'audio', // loudness, energy in the first 3 s, tempo, pitch variance, spectral centroid, MFCC means
  'video', // key-frame brightness, contrast, colourfulness, sharpness, cut rate, motion
] as const;

/** One of the feature groups. */
export type FeatureGroupName = (typeof featureGroupNames)[number];

/** One group for many rows: raw values (not standardised: consumers fit their own scaling on training data). */
export interface FeatureGroupMatrix {
  /** Feature names, one per column, stable for a given extractor version. */
  readonly names: readonly string[];
  /** rows × names.length values, row-major; rows where `present` is 0 hold zeros that mean nothing. */
  readonly values: Float32Array;
  /** 1 where the row has this group, 0 where it is missing. */
  readonly present: Uint8Array;
}

/** Feature groups for a list of posts or drafts, row i describing `keys[i]`. */
export interface FeatureMatrix {
  /** Post keys (lake `posts.post_key`), or draft ids for drafts. */
  readonly keys: readonly string[];
  readonly groups: Readonly<Record<FeatureGroupName, FeatureGroupMatrix>>;
}

/** A script not (yet) in the lake, featurised as if posted at `postedAt` with the lake's history before it. */
export interface Draft {
  /** Caller's id for the draft; defaults to its index. */
  id?: string;
  text: string;
  /** Creator (author) name as the lake knows it, for the creator and hook-comparison groups. */
  creator?: string;
  hashtags?: readonly string[];
  /** Sound/music id or title. */
  sound?: string;
  /** Default: now. */
  postedAt?: Date;
  region?: string;
  /** A video or audio file for the media groups. */
  mediaPath?: string;
}
