import { readFileSync } from 'node:fs';
import { ConfigError, IoError, ValidationError, writeFileAtomic } from '../core/index.js';

/**
 * Special tokens, added after the 256 byte symbols and before the merges. `endOfScript` also pads and
 * starts nothing: a script reads `<|style|> hook <|body|> body <|endofscript|>`.
 */
export const SPECIAL_TOKENS = {
  endOfScript: '<|endofscript|>',
  style: '<|style|>',
  body: '<|body|>',
} as const;

/** Options of `trainTokenizer`. */
export interface TrainTokenizerOptions {
  /** Final vocabulary size: 256 bytes + specials + merges (default 2048). */
  vocabSize?: number;
  /** A pair must occur at least this often to be merged (default 2). */
  minFrequency?: number;
}

// GPT-2's pre-tokenizer pattern (as Hugging Face's ByteLevel pre-tokenizer with use_regex): merges never
// cross a word boundary, so tokens stay word pieces and encoding can cache per word.
const PRE_TOKEN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's bytes_to_unicode: every byte maps to a printable character, so that a byte string is a
 * string of visible symbols that JSON and the merges file can hold.
 */
function byteAlphabet(): { toChar: string[]; toByte: Map<string, number> } {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const toChar: string[] = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    toChar[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  const toByte = new Map(toChar.map((c, b) => [c, b]));
  return { toChar, toByte };
}

const { toChar: BYTE_CHAR, toByte: CHAR_BYTE } = byteAlphabet();
const utf8 = new TextEncoder();

function byteString(text: string): string {
  let s = '';
  for (const b of utf8.encode(text)) s += BYTE_CHAR[b];
  return s;
}

function splitWords(text: string): string[] {
  return text.match(PRE_TOKEN) ?? [];
}

/**
 * A byte-level BPE tokenizer (GPT-2 scheme) with special tokens. Any UTF-8 text round-trips exactly:
 * every byte has its own token, merges only shorten the sequence. Saved as a Hugging Face
 * `tokenizer.json` (model BPE, ByteLevel pre-tokenizer and decoder) that other BPE readers load.
 * @example
 * const tok = trainTokenizer(captions, { vocabSize: 1024 });
 * tok.decode(tok.encode('hook 🔥')) === 'hook 🔥';
 */
export class Tokenizer {
  readonly vocab: ReadonlyMap<string, number>;
  readonly merges: readonly (readonly [string, string])[];
  /** Token id to token string (byte symbols or a special token). */
  readonly tokens: readonly string[];
  readonly endOfScriptId: number;
  readonly styleId: number;
  readonly bodyId: number;
  private readonly ranks = new Map<string, number>();
  private readonly specialIds: ReadonlyMap<string, number>;
  private readonly specialPattern: RegExp;
  private readonly cache = new Map<string, number[]>();

  constructor(vocab: ReadonlyMap<string, number>, merges: readonly (readonly [string, string])[]) {
    this.vocab = vocab;
    this.merges = merges;
    const tokens: string[] = new Array<string>(vocab.size);
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id >= vocab.size || tokens[id] !== undefined)
        throw new ConfigError(`tokenizer vocabulary ids must be 0..${vocab.size - 1} once each, got ${id}`);
      tokens[id] = token;
    }
    this.tokens = tokens;
    merges.forEach(([a, b], rank) => this.ranks.set(`${a} ${b}`, rank));
    for (const b of BYTE_CHAR)
      if (!vocab.has(b)) throw new ConfigError(`tokenizer vocabulary lacks the byte symbol "${b}"`);
    const special = new Map<string, number>();
    for (const name of Object.values(SPECIAL_TOKENS)) {
      const id = vocab.get(name);
      if (id === undefined) throw new ConfigError(`tokenizer vocabulary lacks the special token ${name}`);
      special.set(name, id);
    }
    this.specialIds = special;
    this.endOfScriptId = special.get(SPECIAL_TOKENS.endOfScript)!;
    this.styleId = special.get(SPECIAL_TOKENS.style)!;
    this.bodyId = special.get(SPECIAL_TOKENS.body)!;
    const escaped = [...special.keys()].map((s) => s.replace(/[|<>]/g, (c) => `\\${c}`));
    this.specialPattern = new RegExp(`(${escaped.join('|')})`);
  }

  /** Number of tokens. */
  get vocabSize(): number {
    return this.tokens.length;
  }

  /** Token ids of `text`; special token strings in the text become their ids. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const part of text.split(this.specialPattern)) {
      if (part === '') continue;
      const special = this.specialIds.get(part);
      if (special !== undefined) {
        out.push(special);
        continue;
      }
      for (const word of splitWords(part)) out.push(...this.encodeWord(word));
    }
    return out;
  }

  /** The text of `ids`; special tokens are written out unless `skipSpecial`. */
  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    const bytes: number[] = [];
    let text = '';
    const flush = () => {
      text += new TextDecoder().decode(Uint8Array.from(bytes));
      bytes.length = 0;
    };
    for (const id of ids) {
      const token = this.tokens[id];
      if (token === undefined) throw new ValidationError(`token id ${id} is outside [0, ${this.vocabSize})`);
      if (this.specialIds.has(token)) {
        flush();
        if (options.skipSpecial !== true) text += token;
        continue;
      }
      for (const ch of token) bytes.push(CHAR_BYTE.get(ch)!);
    }
    flush();
    return text;
  }

  /** The tokenizer as a Hugging Face `tokenizer.json` object. */
  toJSON(): Record<string, unknown> {
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [...this.specialIds].map(([content, id]) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: false,
        vocab: Object.fromEntries(this.vocab),
        merges: this.merges.map(([a, b]) => [a, b]),
      },
    };
  }

  /** Writes `tokenizer.json` atomically. */
  save(path: string): void {
    writeFileAtomic(path, JSON.stringify(this.toJSON()));
  }

  /** Rebuilds a tokenizer from a `tokenizer.json` object (merges as "a b" strings or [a, b] pairs). */
  static fromJSON(json: unknown): Tokenizer {
    const model = (json as { model?: { type?: string; vocab?: unknown; merges?: unknown } }).model;
    if (model?.type !== 'BPE' || typeof model.vocab !== 'object' || !Array.isArray(model.merges))
      throw new ConfigError('tokenizer.json must hold a BPE `model` with `vocab` and `merges`');
    const vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    for (const added of (json as { added_tokens?: { id: number; content: string }[] }).added_tokens ?? [])
      vocab.set(added.content, added.id);
    const merges = (model.merges as unknown[]).map((m): [string, string] => {
      if (Array.isArray(m) && m.length === 2) return [String(m[0]), String(m[1])];
      const parts = String(m).split(' ');
      if (parts.length !== 2) throw new ConfigError(`tokenizer.json merge "${String(m)}" is not a pair`);
      return [parts[0], parts[1]];
    });
    return new Tokenizer(vocab, merges);
  }

  /** Reads a `tokenizer.json` file. */
  static load(path: string): Tokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new IoError(`could not read ${path}: ${(cause as Error).message}`, { cause });
    }
    return Tokenizer.fromJSON(JSON.parse(text));
  }

  private encodeWord(word: string): number[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let parts = [...byteString(word)];
    // Standard BPE encoding: repeatedly apply the lowest-ranked merge present, as the trainer learned them.
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const rank = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      const [a, b] = this.merges[bestRank];
      const next: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
          next.push(a + b);
          i++;
        } else next.push(parts[i]);
      }
      parts = next;
    }
    const ids = parts.map((p) => this.vocab.get(p)!);
    if (this.cache.size < 100_000) this.cache.set(word, ids);
    return ids;
  }
}

/**
 * Learns byte-level BPE merges from `texts` (Sennrich et al., 2016, on bytes as GPT-2): count the words
 * of the pre-tokenizer, then merge the most frequent adjacent pair until the vocabulary is full. Pair
 * counts are updated only for the words a merge touches, so training on a lake's captions takes seconds.
 * Ties go to the lexicographically smaller pair, so training is deterministic.
 */
export function trainTokenizer(texts: Iterable<string>, options: TrainTokenizerOptions = {}): Tokenizer {
  const vocabSize = options.vocabSize ?? 2048;
  const minFrequency = options.minFrequency ?? 2;
  const specials = Object.values(SPECIAL_TOKENS);
  const base = 256 + specials.length;
  if (!Number.isInteger(vocabSize) || vocabSize < base)
    throw new ValidationError(`\`vocabSize\` must be an integer >= ${base}, got ${vocabSize}`);
  const vocab = new Map<string, number>();
  for (const ch of BYTE_CHAR) vocab.set(ch, vocab.size);
  for (const s of specials) vocab.set(s, vocab.size);

  const wordCounts = new Map<string, number>();
  for (const text of texts)
    for (const part of text.split(/<\|endofscript\|>|<\|style\|>|<\|body\|>/))
      for (const w of splitWords(part)) {
        const bs = byteString(w);
        wordCounts.set(bs, (wordCounts.get(bs) ?? 0) + 1);
      }
  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push([...w]);
    counts.push(c);
  }
  const pairCounts = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addPairs = (wi: number, sign: number) => {
    const w = words[wi];
    for (let i = 0; i < w.length - 1; i++) {
      const key = `${w[i]} ${w[i + 1]}`;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + sign * counts[wi]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (set === undefined) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);

  const merges: [string, string][] = [];
  while (vocab.size < vocabSize) {
    let bestKey = '';
    let bestCount = 0;
    for (const [key, c] of pairCounts) {
      if (c > bestCount || (c === bestCount && c > 0 && key < bestKey)) {
        bestKey = key;
        bestCount = c;
      }
    }
    if (bestCount < minFrequency) break;
    const [a, b] = bestKey.split(' ') as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    vocab.set(merged, vocab.size);
    for (const wi of pairWords.get(bestKey) ?? []) {
      const w = words[wi];
      addPairs(wi, -1);
      const next: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i < w.length - 1 && w[i] === a && w[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(w[i]);
      }
      words[wi] = next;
      addPairs(wi, 1);
    }
    pairCounts.delete(bestKey);
    pairWords.delete(bestKey);
  }
  return new Tokenizer(vocab, merges);
}
