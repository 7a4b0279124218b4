import { mkdirSync, renameSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { IoError } from './errors.js';

/**
 * Writes a file so that readers see either the old content or the new, never a half-written file:
 * write to a temporary sibling, fsync it, then rename over the target (rename is atomic on POSIX).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      const parts = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
      for (const part of parts) writeFileSync(fd, part);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (cause) {
    rmSync(tmp, { force: true });
    throw new IoError(`could not write ${path}: ${(cause as Error).message}`, { cause });
  }
}
