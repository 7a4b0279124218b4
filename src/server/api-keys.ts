import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/index.js';

/** The API keys a server accepts for writes, held only as SHA-256 digests. */
export interface ApiKeyStore {
  /** Names of the configured keys (never the keys). */
  readonly names: readonly string[];
  /** The name of the key that `presented` is, or undefined when it matches none. */
  identify(presented: string): string | undefined;
}

const digest = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * Builds a key store from `name:secret` pairs or `name:sha256:<hex>` digests, so a key file need not
 * hold the secrets themselves. A presented key is hashed and compared with every digest in constant time,
 * which keeps response timing from telling how many leading bytes of a guess were right.
 */
export function apiKeyStore(entries: readonly string[], source = 'API keys'): ApiKeyStore {
  const keys: { name: string; digest: Buffer }[] = [];
  for (const [i, raw] of entries.entries()) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1)
      throw new ConfigError(`${source} entry ${i + 1}: expected "name:key" or "name:sha256:<hex>"`);
    const name = entry.slice(0, colon);
    const rest = entry.slice(colon + 1);
    const hex = /^sha256:([0-9a-f]{64})$/i.exec(rest)?.[1];
    if (rest.startsWith('sha256:') && hex === undefined)
      throw new ConfigError(`${source} entry ${i + 1} ("${name}"): a sha256 digest is 64 hex digits`);
    if (hex === undefined && rest.length < 16)
      throw new ConfigError(`${source} entry ${i + 1} ("${name}"): a key needs at least 16 characters`);
    if (keys.some((k) => k.name === name)) throw new ConfigError(`${source}: key name "${name}" repeats`);
    keys.push({ name, digest: hex === undefined ? digest(rest) : Buffer.from(hex, 'hex') });
  }
  return {
    names: keys.map((k) => k.name),
    identify(presented) {
      const d = digest(presented);
      let found: string | undefined;
      for (const k of keys) if (timingSafeEqual(d, k.digest) && found === undefined) found = k.name;
      return found;
    },
  };
}

/**
 * Loads keys from a file (one `name:key` or `name:sha256:<hex>` per line, `#` comments) and from the
 * `TKLLM_API_KEYS` environment variable (the same entries separated by commas).
 */
export function loadApiKeys(options: { file?: string; env?: NodeJS.ProcessEnv } = {}): ApiKeyStore {
  const entries: string[] = [];
  if (options.file !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.file, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read the API keys file ${options.file}: ${(cause as Error).message}`, {
        cause,
      });
    }
    entries.push(...text.split(/\r?\n/));
  }
  const fromEnv = (options.env ?? process.env).TKLLM_API_KEYS;
  if (fromEnv !== undefined) entries.push(...fromEnv.split(','));
  return apiKeyStore(entries, options.file ?? 'TKLLM_API_KEYS');
}

/** The key a request presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  const key = headers['x-api-key'];
  return typeof key === 'string' && key !== '' ? key : undefined;
}
