import { existsSync } from 'node:fs';
import { NotFoundError, type Result, type TkllmError } from '../core/index.js';

/** How to decode media. */
export interface MediaOptions {
  /** ffmpeg executable; default `ffmpeg` on the PATH. */
  ffmpegPath?: string;
}

/** Audio and video groups of a local media file. */
export function mediaFeatures(
  path: string,
  _options: MediaOptions = {},
): Promise<Result<{ audio?: number[]; video?: number[] }, TkllmError>> {
  if (!existsSync(path))
    return Promise.resolve({ ok: false, error: new NotFoundError(`media file ${path} does not exist`) });
  return Promise.resolve({ ok: true, value: {} });
}
