import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempLake } from '../../test/temp-lake.js';
import { extractFeatures, explainPostFeatures, openFeatureContext } from './index.js';
import { mediaFeatures } from './media.js';
import { audioFeatureNames, videoFeatureNames } from './media-names.js';
import { ingestPosts } from './testing.js';

// Clips come from ffmpeg's own test sources (lavfi), so the tests ship no media and download nothing.
const dir = mkdtempSync(join(tmpdir(), 'tkllm-media-test-'));
const clip = (name: string, ...args: string[]) => {
  const path = join(dir, name);
  execFileSync('ffmpeg', ['-v', 'error', '-y', ...args, path]);
  return path;
};
const audio = (values: number[] | undefined, name: (typeof audioFeatureNames)[number]) =>
  values?.[audioFeatureNames.indexOf(name)] ?? Number.NaN;
const video = (values: number[] | undefined, name: (typeof videoFeatureNames)[number]) =>
  values?.[videoFeatureNames.indexOf(name)] ?? Number.NaN;

let tone: string;
let beeps: string;
let film: string;
beforeAll(() => {
  tone = clip('tone.wav', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=16000:duration=4');
  // A 1 kHz beep of 50 ms every half second: 120 beats a minute.
  beeps = clip(
    'beeps.wav',
    '-f',
    'lavfi',
    '-i',
    "aevalsrc='0.8*sin(2*PI*1000*t)*lt(mod(t,0.5),0.05)':s=16000:d=8",
  );
  // 2 s of the colour test pattern, then 2 s of black: one cut at 2 s; a 220 Hz tone beside it.
  film = clip(
    'film.mkv',
    ...['-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=25:duration=2'],
    ...['-f', 'lavfi', '-i', 'color=c=black:size=160x90:rate=25:duration=2'],
    ...['-f', 'lavfi', '-i', 'sine=frequency=220:sample_rate=16000:duration=4'],
    ...['-filter_complex', '[0:v][1:v]concat=n=2:v=1:a=0[v]', '-map', '[v]', '-map', '2:a'],
    ...['-c:v', 'ffv1', '-c:a', 'pcm_s16le'],
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('media groups', () => {
  it('measures pitch, spectral centroid and loudness of a tone', async () => {
    const r = await mediaFeatures(tone);
    if (!r.ok) throw r.error;
    expect(r.value.video).toBeUndefined();
    expect(audio(r.value.audio, 'durationSeconds')).toBeCloseTo(4, 1);
    expect(audio(r.value.audio, 'pitchMean')).toBeGreaterThan(430);
    expect(audio(r.value.audio, 'pitchMean')).toBeLessThan(450);
    expect(audio(r.value.audio, 'voicedShare')).toBeGreaterThan(0.9);
    expect(audio(r.value.audio, 'pitchStd')).toBeLessThan(0.1);
    expect(audio(r.value.audio, 'spectralCentroidMean')).toBeGreaterThan(400);
    expect(audio(r.value.audio, 'spectralCentroidMean')).toBeLessThan(600);
    // lavfi's sine has amplitude 1/8: mean square 1/128, about -21 dB, steady (slope ~ 0).
    expect(audio(r.value.audio, 'loudnessMean')).toBeCloseTo(-21.1, 0);
    expect(Math.abs(audio(r.value.audio, 'loudnessSlope'))).toBeLessThan(0.1);
  });

  it('finds the tempo of beeps at 120 a minute', async () => {
    const r = await mediaFeatures(beeps);
    if (!r.ok) throw r.error;
    expect(audio(r.value.audio, 'tempoBpm')).toBeGreaterThan(115);
    expect(audio(r.value.audio, 'tempoBpm')).toBeLessThan(125);
    expect(audio(r.value.audio, 'tempoStrength')).toBeGreaterThan(0.3);
  });

  it('finds the cut, key frames and a thumbnail in a generated clip', async () => {
    const r = await mediaFeatures(film);
    if (!r.ok) throw r.error;
    const v = r.value.video;
    expect(video(v, 'durationSeconds')).toBeCloseTo(4, 0);
    expect(r.value.videoDetails?.cuts).toEqual([2]);
    expect(r.value.videoDetails?.keyFrames.map((k) => [k.time, k.reason])).toEqual([
      [0, '0s'],
      [1, '1s'],
      [2, 'cut'],
      [3, '3s'],
    ]);
    // The black half is dark and colourless; the test pattern is neither, so it gives the thumbnail.
    expect(video(v, 'firstFrameColourfulness')).toBeGreaterThan(0.2);
    expect(video(v, 'thumbnailTime')).toBeLessThan(2);
    expect(video(v, 'cutsPerMinute')).toBeCloseTo(15, 0);
    expect(audio(r.value.audio, 'pitchMean')).toBeCloseTo(220, -1);
  });

  it('reports a missing ffmpeg and an unreadable file as errors, not crashes', async () => {
    const missing = await mediaFeatures(tone, { ffprobePath: join(dir, 'no-ffprobe') });
    expect(missing.ok).toBe(false);
    if (!missing.ok) {
      expect(missing.error.code).toBe('UNSUPPORTED');
      expect(missing.error.message).toMatch(/apt-get install -y ffmpeg/);
    }
    const junk = join(dir, 'junk.mp4');
    writeFileSync(junk, 'not a video');
    const bad = await mediaFeatures(junk);
    expect(!bad.ok && bad.error.code).toBe('VALIDATION');
    expect(!bad.ok && bad.error.message).toContain('junk.mp4');
    const url = await mediaFeatures('https://example.com/v.mp4');
    expect(!url.ok && url.error.code).toBe('NOT_FOUND');
  });

  it('stores media groups for lake posts with a local video and lists media errors', async () => {
    const t = await tempLake();
    try {
      await ingestPosts(
        t.lake,
        t.write,
        'posts.csv',
        [
          { id: '1', user: 'anna', text: 'A film', at: '2025-03-01T08:00:00Z' },
          { id: '2', user: 'anna', text: 'Another', at: '2025-03-02T08:00:00Z' },
          { id: '3', user: 'anna', text: 'Online only', at: '2025-03-03T08:00:00Z' },
        ],
        '2025-03-10T00:00:00Z',
      );
      const junk = join(dir, 'junk2.mp4');
      writeFileSync(junk, 'not a video');
      await t.lake
        .run(`INSERT INTO media VALUES ('tiktok:1', 'video', '${film}'), ('tiktok:2', 'video', '${junk}'),
        ('tiktok:3', 'video', 'https://example.com/3.mp4')`);
      const report = await extractFeatures(t.lake);
      expect(report.present.audio).toBe(1);
      expect(report.present.video).toBe(1);
      expect(report.mediaErrors).toHaveLength(1);
      expect(report.mediaErrors[0]).toMatchObject({ postKey: 'tiktok:2', path: junk });
      const e = await explainPostFeatures(t.lake, '1');
      expect(e.groups.find((g) => g.name === 'video')?.values.cutsPerMinute).toBeCloseTo(15, 0);
      const context = await openFeatureContext(t.lake);
      const d = await context.featurise([{ text: 'A film', mediaPath: film }]);
      expect(d.groups.video.present[0]).toBe(1);
      await expect(context.featurise([{ text: 'x', mediaPath: junk }])).rejects.toThrow(/junk2\.mp4/);
    } finally {
      t.cleanup();
    }
  });
});
