import { createHash } from 'node:crypto';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/index.js';
import { apiKeyStore, loadApiKeys, presentedKey } from './api-keys.js';

describe('API keys', () => {
  it('identifies a key given in clear and one given as its sha256 digest', () => {
    const digest = createHash('sha256').update('second-secret-key-0000').digest('hex');
    const store = apiKeyStore(['ci:first-secret-key-0000', `ops:sha256:${digest}`, '# comment', '']);
    expect(store.names).toEqual(['ci', 'ops']);
    expect(store.identify('first-secret-key-0000')).toBe('ci');
    expect(store.identify('second-secret-key-0000')).toBe('ops');
    expect(store.identify('first-secret-key-000')).toBeUndefined();
    expect(store.identify('')).toBeUndefined();
  });

  it('rejects short keys, bad digests and repeated names with the entry they are on', () => {
    expect(() => apiKeyStore(['ci:short'])).toThrow(/entry 1 \("ci"\): a key needs at least 16/);
    expect(() => apiKeyStore(['ci:sha256:abc'])).toThrow(/64 hex digits/);
    expect(() => apiKeyStore(['no-colon-here-at-all'])).toThrow(ConfigError);
    expect(() => apiKeyStore(['a:0123456789abcdef', 'a:0123456789abcdefg'])).toThrow(/"a" repeats/);
  });

  it('loads keys from a file and from TKLLM_API_KEYS together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tkllm-keys-'));
    try {
      const file = join(dir, 'keys.txt');
      writeFileSync(file, '# studio keys\nci:file-secret-key-0000\n');
      const store = loadApiKeys({ file, env: { TKLLM_API_KEYS: 'env:env-secret-key-00000' } });
      expect(store.names).toEqual(['ci', 'env']);
      expect(store.identify('env-secret-key-00000')).toBe('env');
      expect(() => loadApiKeys({ file: join(dir, 'missing.txt'), env: {} })).toThrow(
        /cannot read the API keys file/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the key from a bearer token or the X-API-Key header', () => {
    expect(presentedKey({ authorization: 'Bearer abc' })).toBe('abc');
    expect(presentedKey({ 'x-api-key': 'xyz' })).toBe('xyz');
    expect(presentedKey({ authorization: 'Basic abc' })).toBeUndefined();
    expect(presentedKey({})).toBeUndefined();
  });
});
