import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './fs.js';
import { IoError } from './errors.js';

describe('writeFileAtomic', () => {
  it('replaces the content and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-fs-'));
    const path = join(dir, 'model.bin');
    writeFileSync(path, 'old');
    writeFileAtomic(path, [new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect([...readFileSync(path)]).toEqual([1, 2, 3]);
    expect(readdirSync(dir)).toEqual(['model.bin']);
  });

  it('keeps the old file when the write fails', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-fs-'));
    const path = join(dir, 'model.bin');
    writeFileSync(path, 'old');
    // A directory cannot be renamed over by a file: the write fails after the temp file was written.
    expect(() => writeFileAtomic(dir, 'new')).toThrow(IoError);
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['model.bin']);
  });
});
