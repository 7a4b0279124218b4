// Video measures on small RGB frames (64 x 36 at 8 frames a second, decoded by ffmpeg).

/** A frame's measures, 0..1 scaled. */
export interface FrameStats {
  time: number;
  /** Mean luma (Rec. 601 weights). */
  brightness: number;
  /** Standard deviation of luma (RMS contrast). */
  contrast: number;
  /** Hasler & Süsstrunk (2003) colourfulness: sqrt(σrg² + σyb²) + 0.3 sqrt(μrg² + μyb²). */
  colourfulness: number;
  /** Variance of the 4-neighbour Laplacian of luma: blur lowers it. */
  sharpness: number;
}

/** A key frame (at 0 s, 1 s, 3 s or a scene cut) and why it was taken. */
export interface KeyFrame extends FrameStats {
  reason: '0s' | '1s' | '3s' | 'cut';
  thumbnailScore: number;
}

/** What a person wants to see of a video's analysis. */
export interface VideoDetails {
  keyFrames: KeyFrame[];
  cuts: number[];
  /** The key frame with the best thumbnail score. */
  thumbnail: KeyFrame | undefined;
}

/** A cut is a jump in the colour histogram: half the mass moved (L1 distance of normalised histograms > 1). */
const cutThreshold = 1;

function frameStats(rgb: Uint8Array, offset: number, width: number, height: number, time: number) {
  const n = width * height;
  const luma = new Float32Array(n);
  let sl = 0;
  let sl2 = 0;
  let srg = 0;
  let srg2 = 0;
  let syb = 0;
  let syb2 = 0;
  const hist = new Float32Array(48);
  for (let p = 0; p < n; p++) {
    const r = rgb[offset + 3 * p];
    const g = rgb[offset + 3 * p + 1];
    const b = rgb[offset + 3 * p + 2];
    const y = (0.299 * r + 0.587 * g + 0.114 * b) / 255;
    luma[p] = y;
    sl += y;
    sl2 += y * y;
    const rg = (r - g) / 255;
    const yb = (0.5 * (r + g) - b) / 255;
    srg += rg;
    srg2 += rg * rg;
    syb += yb;
    syb2 += yb * yb;
    hist[r >> 4] = hist[r >> 4] + 1 / n;
    hist[16 + (g >> 4)] = hist[16 + (g >> 4)] + 1 / n;
    hist[32 + (b >> 4)] = hist[32 + (b >> 4)] + 1 / n;
  }
  const m = sl / n;
  const mrg = srg / n;
  const myb = syb / n;
  const vrg = Math.max(0, srg2 / n - mrg * mrg);
  const vyb = Math.max(0, syb2 / n - myb * myb);
  let ls = 0;
  let ls2 = 0;
  let count = 0;
  for (let yy = 1; yy < height - 1; yy++)
    for (let xx = 1; xx < width - 1; xx++) {
      const i = yy * width + xx;
      const lap = luma[i - 1] + luma[i + 1] + luma[i - width] + luma[i + width] - 4 * luma[i];
      ls += lap;
      ls2 += lap * lap;
      count++;
    }
  const stats: FrameStats = {
    time,
    brightness: m,
    contrast: Math.sqrt(Math.max(0, sl2 / n - m * m)),
    colourfulness: Math.sqrt(vrg + vyb) + 0.3 * Math.sqrt(mrg * mrg + myb * myb),
    sharpness: count ? Math.max(0, ls2 / count - (ls / count) ** 2) : 0,
  };
  return { stats, luma, hist };
}

/**
 * Thumbnail score of a frame: well exposed (brightness near mid-grey), colourful and sharp,
 * exposure x (colourfulness + sqrt(sharpness)), exposure = 1 - 2|brightness - 0.5|.
 */
export function thumbnailScore(f: FrameStats): number {
  return (1 - 2 * Math.abs(f.brightness - 0.5)) * (f.colourfulness + Math.sqrt(f.sharpness));
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const std = (xs: number[]) => {
  const m = mean(xs);
  return xs.length ? Math.sqrt(mean(xs.map((x) => (x - m) ** 2))) : 0;
};

/** The `video` group (order of media-names.ts) and key-frame details, or undefined for an empty stream. */
export function videoFeatures(
  rgb: Uint8Array,
  shape: { width: number; height: number; fps: number },
): { values: number[]; details: VideoDetails } | undefined {
  const frameBytes = shape.width * shape.height * 3;
  const frames = Math.floor(rgb.length / frameBytes);
  if (frames === 0) return undefined;
  const stats: FrameStats[] = [];
  const motion: number[] = [];
  const cuts: number[] = [];
  const cutFrames = new Set<number>();
  let prev: { luma: Float32Array; hist: Float32Array } | undefined;
  for (let f = 0; f < frames; f++) {
    const cur = frameStats(rgb, f * frameBytes, shape.width, shape.height, f / shape.fps);
    stats.push(cur.stats);
    if (prev) {
      let diff = 0;
      for (let i = 0; i < cur.luma.length; i++) diff += Math.abs(cur.luma[i] - prev.luma[i]);
      motion.push(diff / cur.luma.length);
      let h = 0;
      for (let i = 0; i < cur.hist.length; i++) h += Math.abs(cur.hist[i] - prev.hist[i]);
      // Three histograms (R, G, B) each sum to 1, so h is at most 6; a cut moves half of every channel.
      if (h / 3 > cutThreshold) {
        cuts.push(cur.stats.time);
        cutFrames.add(f);
      }
    }
    prev = cur;
  }
  const at = (seconds: number) => stats[Math.min(frames - 1, Math.round(seconds * shape.fps))];
  const duration = frames / shape.fps;
  const keyFrames: KeyFrame[] = [];
  const add = (s: FrameStats, reason: KeyFrame['reason']) => {
    if (!keyFrames.some((k) => k.time === s.time))
      keyFrames.push({ ...s, reason, thumbnailScore: thumbnailScore(s) });
  };
  add(at(0), '0s');
  if (duration > 1) add(at(1), '1s');
  if (duration > 3) add(at(3), '3s');
  for (const f of cutFrames) add(stats[f], 'cut');
  keyFrames.sort((a, b) => a.time - b.time);
  const thumbnail = keyFrames.reduce<KeyFrame | undefined>(
    (best, k) => (!best || k.thumbnailScore > best.thumbnailScore ? k : best),
    undefined,
  );
  const first = stats[0];
  const early = motion.slice(0, Math.round(3 * shape.fps));
  const values = [
    duration,
    mean(stats.map((s) => s.brightness)),
    std(stats.map((s) => s.brightness)),
    mean(stats.map((s) => s.contrast)),
    mean(stats.map((s) => s.colourfulness)),
    mean(stats.map((s) => s.sharpness)),
    (cuts.length / duration) * 60,
    mean(motion),
    std(motion),
    first.brightness,
    first.colourfulness,
    first.sharpness,
    mean(early),
    thumbnail?.time ?? 0,
    thumbnail?.thumbnailScore ?? 0,
  ];
  return { values, details: { keyFrames, cuts, thumbnail } };
}
