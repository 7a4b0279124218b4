import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NotFoundError, TkllmError, ValidationError, type Result } from '../core/index.js';
import { audioFeatures } from './audio.js';
import { videoFeatures, type VideoDetails } from './video.js';

// Media are decoded by Debian's ffmpeg, run as a child process that writes raw samples and small raw frames to
// stdout; all measuring happens here in JavaScript on those arrays. Nothing is downloaded.

/** How to decode media. */
export interface MediaOptions {
  /** ffmpeg executable; default `ffmpeg` on the PATH. */
  ffmpegPath?: string;
  /** ffprobe executable; default `ffprobe` on the PATH. */
  ffprobePath?: string;
  /** Seconds of media analysed at most (default 600). */
  maxSeconds?: number;
}

/** The media groups of one file, and what a person wants to see of the video (key frames, thumbnail). */
export interface MediaFeatures {
  audio?: number[];
  video?: number[];
  videoDetails?: VideoDetails;
}

/** Audio sample rate: 16 kHz keeps speech and beat information and is cheap to analyse. */
export const audioRate = 16_000;
/** Video is sampled at 8 frames per second, each scaled to 64 x 36 (enough for exposure, colour, motion, cuts). */
export const videoFps = 8;
export const frameWidth = 64;
export const frameHeight = 36;

interface Probe {
  duration: number;
  hasAudio: boolean;
  hasVideo: boolean;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: err.slice(-2000) }));
  });
}

function missingTool(tool: string, cause: unknown): TkllmError {
  return new TkllmError(
    'UNSUPPORTED',
    `${tool} is not installed or not on the PATH: install Debian's ffmpeg package (apt-get install -y ffmpeg), or pass its path; media groups need it`,
    { cause },
  );
}

async function probe(path: string, options: MediaOptions): Promise<Probe> {
  const tool = options.ffprobePath ?? 'ffprobe';
  let r;
  try {
    r = await run(tool, [
      '-v',
      'error',
      '-show_entries',
      'stream=codec_type:format=duration',
      '-of',
      'json',
      path,
    ]);
  } catch (cause) {
    throw missingTool(tool, cause);
  }
  if (r.code !== 0)
    throw new ValidationError(`${path}: not a media file ffmpeg can read (${r.stderr.trim()})`);
  const info = JSON.parse(r.stdout.toString()) as {
    streams?: { codec_type?: string }[];
    format?: { duration?: string };
  };
  const types = new Set((info.streams ?? []).map((s) => s.codec_type));
  return {
    duration: Number(info.format?.duration ?? 0),
    hasAudio: types.has('audio'),
    hasVideo: types.has('video'),
  };
}

async function decode(path: string, args: string[], options: MediaOptions): Promise<Buffer> {
  const tool = options.ffmpegPath ?? 'ffmpeg';
  let r;
  try {
    r = await run(tool, [
      '-v',
      'error',
      '-nostdin',
      '-i',
      path,
      '-t',
      String(options.maxSeconds ?? 600),
      ...args,
      '-',
    ]);
  } catch (cause) {
    throw missingTool(tool, cause);
  }
  if (r.code !== 0) throw new ValidationError(`${path}: ffmpeg could not decode it (${r.stderr.trim()})`);
  return r.stdout;
}

/**
 * Audio and video groups of a local media file: NOT_FOUND when the file does not exist (for example a URL
 * the lake only references), UNSUPPORTED when ffmpeg is missing, VALIDATION when ffmpeg cannot read it.
 */
export async function mediaFeatures(
  path: string,
  options: MediaOptions = {},
): Promise<Result<MediaFeatures, TkllmError>> {
  if (path.startsWith('file://')) path = fileURLToPath(path);
  if (/^[a-z]+:\/\//i.test(path) || !existsSync(path))
    return { ok: false, error: new NotFoundError(`media file ${path} is not a local file`) };
  try {
    const info = await probe(path, options);
    const value: MediaFeatures = {};
    if (info.hasAudio) {
      const bytes = await decode(path, ['-vn', '-ac', '1', '-ar', String(audioRate), '-f', 'f32le'], options);
      const samples = new Float32Array(bytes.buffer, bytes.byteOffset, Math.floor(bytes.byteLength / 4));
      if (samples.length >= audioRate / 4) value.audio = audioFeatures(samples.slice(), audioRate);
    }
    if (info.hasVideo) {
      const bytes = await decode(
        path,
        [
          '-an',
          '-vf',
          `fps=${videoFps},scale=${frameWidth}:${frameHeight}:flags=area`,
          '-pix_fmt',
          'rgb24',
          '-f',
          'rawvideo',
        ],
        options,
      );
      const v = videoFeatures(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
        width: frameWidth,
        height: frameHeight,
        fps: videoFps,
      });
      if (v) {
        value.video = v.values;
        value.videoDetails = v.details;
      }
    }
    return { ok: true, value };
  } catch (error) {
    if (error instanceof TkllmError) return { ok: false, error };
    throw error;
  }
}
