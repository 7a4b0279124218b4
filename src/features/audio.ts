import FFT from 'fft.js';

// Audio measures on mono float samples. Frames of 512 samples (32 ms at 16 kHz) every 256; the FFT is fft.js.

const frameSize = 512;
const hop = 256;
const pitchSize = 1024;

/** A typed wrapper over fft.js (its published types are `any`). */
class RealFft {
  private readonly fft: FFT;
  private readonly out: number[];
  private readonly back: number[];

  constructor(readonly size: number) {
    this.fft = new FFT(size);
    this.out = this.fft.createComplexArray() as number[];
    this.back = this.fft.createComplexArray() as number[];
  }

  /** Power spectrum |X_k|^2 for k = 0..size/2 of a real frame (zero-padded to size). */
  power(frame: Float32Array, into: Float64Array): Float64Array {
    const input = new Float64Array(this.size);
    input.set(frame.subarray(0, this.size));
    this.fft.realTransform(this.out, input);
    for (let k = 0; k <= this.size / 2; k++) {
      const re = this.out[2 * k];
      const im = this.out[2 * k + 1];
      into[k] = re * re + im * im;
    }
    return into;
  }

  /** Autocorrelation of a frame zero-padded to `size` (Wiener–Khinchin: inverse FFT of the power spectrum). */
  autocorrelation(frame: Float32Array): Float64Array {
    const p = this.power(frame, new Float64Array(this.size / 2 + 1));
    const full = this.fft.createComplexArray() as number[];
    for (let k = 0; k < this.size; k++) full[2 * k] = p[k <= this.size / 2 ? k : this.size - k];
    this.fft.inverseTransform(this.back, full);
    const ac = new Float64Array(this.size / 2);
    for (let i = 0; i < ac.length; i++) ac[i] = this.back[2 * i];
    return ac;
  }
}

const mel = (hz: number) => 2595 * Math.log10(1 + hz / 700);
const hzOfMel = (m: number) => 700 * (10 ** (m / 2595) - 1);

/** Triangular mel filters (26 over 0..rate/2), as in the usual MFCC recipe (Davis & Mermelstein 1980). */
function melFilters(rate: number, bins: number, count = 26): Float64Array[] {
  const top = mel(rate / 2);
  const edges = Array.from({ length: count + 2 }, (_, i) => hzOfMel((top * i) / (count + 1)));
  const binHz = rate / 2 / (bins - 1);
  return Array.from({ length: count }, (_, m) => {
    const [lo, mid, hi] = [edges[m], edges[m + 1], edges[m + 2]] as [number, number, number];
    const w = new Float64Array(bins);
    for (let k = 0; k < bins; k++) {
      const f = k * binHz;
      w[k] = f <= lo || f >= hi ? 0 : f <= mid ? (f - lo) / (mid - lo) : (hi - f) / (hi - mid);
    }
    return w;
  });
}

const db = (meanSquare: number) => 10 * Math.log10(meanSquare + 1e-10);
const mean = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return xs.length ? s / xs.length : 0;
};
const std = (xs: ArrayLike<number>) => {
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) ** 2;
  return xs.length ? Math.sqrt(s / xs.length) : 0;
};

/** Least-squares slope of ys against xs. */
function slope(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return den ? num / den : 0;
}

/**
 * The `audio` group (see media-names.ts for the order): loudness curve in dB over 100 ms blocks, energy in
 * the first 3 s, tempo from the autocorrelation of spectral flux, pitch from frame autocorrelation, spectral
 * centroid and 13 MFCC means.
 */
export function audioFeatures(samples: Float32Array, rate: number): number[] {
  const duration = samples.length / rate;
  // Loudness curve: mean square per 100 ms block, in dB.
  const block = Math.round(rate / 10);
  const loud: number[] = [];
  const times: number[] = [];
  let total = 0;
  for (let i = 0; i + block <= samples.length; i += block) {
    let e = 0;
    for (let j = i; j < i + block; j++) e += samples[j] ** 2;
    total += e;
    loud.push(db(e / block));
    times.push(i / rate);
  }
  const first = Math.min(samples.length, 3 * rate);
  let firstEnergy = 0;
  for (let i = 0; i < first; i++) firstEnergy += samples[i] ** 2;
  const meanSquare = total / Math.max(1, loud.length * block);
  const firstMeanSquare = firstEnergy / Math.max(1, first);

  // Spectral frames: centroid, MFCC and positive spectral flux (the onset envelope for the tempo).
  const fft = new RealFft(frameSize);
  const bins = frameSize / 2 + 1;
  const filters = melFilters(rate, bins);
  const window = Float32Array.from(
    { length: frameSize },
    (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frameSize),
  );
  const frame = new Float32Array(frameSize);
  let prev = new Float64Array(bins);
  let power = new Float64Array(bins);
  const centroids: number[] = [];
  const flux: number[] = [];
  const mfccSum = new Float64Array(13);
  let mfccFrames = 0;
  const logMel = new Float64Array(filters.length);
  for (let start = 0; start + frameSize <= samples.length; start += hop) {
    for (let i = 0; i < frameSize; i++) frame[i] = samples[start + i] * window[i];
    fft.power(frame, power);
    let sum = 0;
    let weighted = 0;
    let f = 0;
    for (let k = 0; k < bins; k++) {
      const mag = Math.sqrt(power[k]);
      sum += mag;
      weighted += mag * ((k * rate) / frameSize);
      const d = mag - Math.sqrt(prev[k]);
      if (d > 0) f += d;
    }
    flux.push(f);
    if (sum > 1e-3) centroids.push(weighted / sum);
    filters.forEach((w, m) => {
      let e = 0;
      for (let k = 0; k < bins; k++) e += w[k] * power[k];
      logMel[m] = Math.log(e + 1e-10);
    });
    // DCT-II (orthonormal) of the log mel energies; coefficients 0..12.
    const n = filters.length;
    for (let c = 0; c < 13; c++) {
      let s = 0;
      for (let m = 0; m < n; m++) s += logMel[m] * Math.cos((Math.PI * c * (m + 0.5)) / n);
      mfccSum[c] = mfccSum[c] + s * Math.sqrt((c === 0 ? 1 : 2) / n);
    }
    mfccFrames++;
    [prev, power] = [power, prev];
  }

  const { bpm, strength } = tempo(flux, rate / hop);
  const pitch = pitchTrack(samples, rate);
  return [
    duration,
    mean(loud),
    std(loud),
    loud.length ? Math.max(...loud) : db(0),
    slope(times, loud),
    db(firstMeanSquare),
    meanSquare > 0 ? firstMeanSquare / meanSquare : 0,
    bpm,
    strength,
    pitch.mean,
    pitch.std,
    pitch.voiced,
    mean(centroids),
    std(centroids),
    ...Array.from(mfccSum, (s) => (mfccFrames ? s / mfccFrames : 0)),
  ];
}

/** Tempo: the lag of the strongest autocorrelation of the onset envelope between 60 and 200 beats a minute. */
function tempo(flux: number[], framesPerSecond: number): { bpm: number; strength: number } {
  const m = mean(flux);
  const x = flux.map((v) => v - m);
  const ac = (lag: number) => {
    let s = 0;
    for (let i = lag; i < x.length; i++) s += x[i] * x[i - lag];
    return s;
  };
  const zero = ac(0);
  if (zero <= 0 || x.length < framesPerSecond * 2) return { bpm: 0, strength: 0 };
  let best = 0;
  let bestLag = 0;
  const minLag = Math.floor((60 * framesPerSecond) / 200);
  const maxLag = Math.min(x.length - 1, Math.ceil((60 * framesPerSecond) / 60));
  for (let lag = minLag; lag <= maxLag; lag++) {
    const v = ac(lag);
    if (v > best) [best, bestLag] = [v, lag];
  }
  if (!bestLag) return { bpm: 0, strength: 0 };
  // Parabolic interpolation around the peak refines the lag to a fraction of a frame.
  const [a, b, c] = [ac(bestLag - 1), best, ac(bestLag + 1)];
  const shift = a - 2 * b + c === 0 ? 0 : (0.5 * (a - c)) / (a - 2 * b + c);
  return { bpm: (60 * framesPerSecond) / (bestLag + shift), strength: best / zero };
}

/**
 * Pitch by normalised autocorrelation over 1024-sample frames every 64 ms, between 60 and 500 Hz; a frame is
 * voiced when it is not silent and its best lag correlates above 0.6. The spread is in semitones.
 */
function pitchTrack(samples: Float32Array, rate: number): { mean: number; std: number; voiced: number } {
  const fft = new RealFft(2 * pitchSize);
  const minLag = Math.floor(rate / 500);
  const maxLag = Math.ceil(rate / 60);
  const pitches: number[] = [];
  let frames = 0;
  const frame = new Float32Array(pitchSize);
  for (let start = 0; start + pitchSize <= samples.length; start += pitchSize) {
    frames++;
    let e = 0;
    for (let i = 0; i < pitchSize; i++) e += (frame[i] = samples[start + i]) ** 2;
    if (e / pitchSize < 1e-5) continue;
    const ac = fft.autocorrelation(frame);
    // Normalise by the overlap so that long lags are not penalised (the "unbiased" autocorrelation).
    const norm = (l: number) => (ac[l] / ac[0]) * (pitchSize / (pitchSize - l));
    let best = 0;
    for (let l = minLag; l <= maxLag; l++) best = Math.max(best, norm(l));
    // Multiples of the period correlate as well as the period itself: take the first peak near the best one.
    let lag = 0;
    for (let l = minLag + 1; l < maxLag && !lag; l++) {
      const v = norm(l);
      if (v >= 0.9 * best && v >= norm(l - 1) && v >= norm(l + 1)) lag = l;
    }
    best = lag ? norm(lag) : 0;
    if (best > 0.6 && lag) {
      const [a, b, c] = [ac[lag - 1], ac[lag], ac[lag + 1]];
      const shift = a - 2 * b + c === 0 ? 0 : (0.5 * (a - c)) / (a - 2 * b + c);
      pitches.push(rate / (lag + shift));
    }
  }
  if (!pitches.length) return { mean: 0, std: 0, voiced: 0 };
  const m = mean(pitches);
  return {
    mean: m,
    std: std(pitches.map((p) => 12 * Math.log2(p / m))),
    voiced: frames ? pitches.length / frames : 0,
  };
}
