import type { Tokenizer } from '../lm/index.js';
import { byteLevelPieces } from '../safety/index.js';

/** One piece of a candidate's text as it is decoded (`GenerateOptions.onToken`). */
export interface TokenPiece {
  /** The candidate's index in the sampled batch (`GeneratedCandidate.index`). */
  candidate: number;
  /** New text: whole characters only, always a continuation of what this candidate sent before. */
  text: string;
}

const WHITESPACE = /\s/;
const pieceCache = new WeakMap<Tokenizer, readonly (Uint8Array | null)[]>();

/** Each token's bytes (null for special tokens), computed once per tokenizer. */
function bytesOf(tokenizer: Tokenizer): readonly (Uint8Array | null)[] {
  let pieces = pieceCache.get(tokenizer);
  if (pieces === undefined) {
    const special = new Set([
      tokenizer.tokens[tokenizer.endOfScriptId],
      tokenizer.tokens[tokenizer.styleId],
      tokenizer.tokens[tokenizer.bodyId],
    ]);
    pieces = byteLevelPieces(tokenizer.tokens, special).map((p) =>
      p === null || typeof p === 'string' ? null : p,
    );
    pieceCache.set(tokenizer, pieces);
  }
  return pieces;
}

/**
 * The text of generated tokens, decoded one token at a time exactly as `scriptText` decodes them at once:
 * bytes go through a streaming UTF-8 decoder that keeps an unfinished character back until its last byte
 * arrives; a special token ends an unfinished character (U+FFFD, as the tokenizer's `decode` does), and
 * `<|body|>` reads as a line break. Each `push` costs the token's own bytes, not the text so far.
 */
export class IncrementalDecoder {
  /** The decoded text so far (without a character still waiting for bytes). */
  text = '';
  private readonly pieces: readonly (Uint8Array | null)[];
  private decoder = new TextDecoder('utf-8');

  constructor(private readonly tokenizer: Tokenizer) {
    this.pieces = bytesOf(tokenizer);
  }

  /** Decodes one more token; returns the text it completed (possibly empty). */
  push(token: number): string {
    const bytes = this.pieces[token];
    let added: string;
    if (bytes === null || bytes === undefined) {
      added = this.decoder.decode();
      if (token === this.tokenizer.bodyId) added += '\n';
    } else added = this.decoder.decode(bytes, { stream: true });
    this.text += added;
    return added;
  }

  /** Ends the text: an unfinished character becomes U+FFFD. Returns what that added. */
  finish(): string {
    const added = this.decoder.decode();
    this.text += added;
    this.decoder = new TextDecoder('utf-8');
    return added;
  }
}

/**
 * One candidate's script as it grows, with the seconds budget applied as `cutToWords` applies it to the
 * whole text: the prompt and the generated text are one string, cut after its `words`-th word. `push` returns
 * only text that the final script will certainly hold — whole characters, trailing whitespace held back until
 * a word follows it, nothing after the budget's last word — so the pieces a client receives always spell a
 * prefix of the final text, and with `finish` exactly its generated part. `complete` turns true once the
 * budget's last word has ended: decoding this candidate further can only produce text that is cut.
 */
export class ScriptGrowth {
  private readonly decoder: IncrementalDecoder;
  private text: string;
  private scanned = 0;
  private wordsSeen = 0;
  private inWord = false;
  /** Start of the word being written (when `inWord`). */
  private wordStart = 0;
  /** End of the last non-whitespace character (the text up to it can be sent). */
  private wordEnd: number;
  /** Where the budget cuts the text, once its last word has ended. */
  private cutAt: number | undefined;
  /** How much of the text (prompt included) has been handed out. */
  private sent: number;

  constructor(
    tokenizer: Tokenizer,
    prompt: string,
    private readonly words: number,
  ) {
    this.decoder = new IncrementalDecoder(tokenizer);
    this.text = prompt;
    this.wordEnd = 0;
    this.scan();
    this.sent = prompt.length;
  }

  /** Whether the budget's last word has ended. */
  get complete(): boolean {
    return this.cutAt !== undefined;
  }

  private scan(): void {
    const t = this.text;
    for (let i = this.scanned; i < t.length && this.cutAt === undefined; i++) {
      if (WHITESPACE.test(t[i])) {
        if (this.inWord && this.wordsSeen === this.words) this.cutAt = i;
        this.inWord = false;
      } else {
        if (!this.inWord) {
          this.wordsSeen++;
          this.wordStart = i;
        }
        this.inWord = true;
        this.wordEnd = i + 1;
      }
    }
    this.scanned = t.length;
  }

  private release(end: number): string {
    if (end <= this.sent) return '';
    const piece = this.text.slice(this.sent, end);
    this.sent = end;
    return piece;
  }

  /** Adds one generated token; `take` then hands out what it completed. */
  add(token: number): void {
    if (this.cutAt !== undefined) return;
    const added = this.decoder.push(token);
    if (added.length === 0) return;
    this.text += added;
    this.scan();
  }

  /**
   * The new text the final script will certainly hold (possibly empty). With `holdWord`, a word still being
   * written is kept back too: the decoding mask says the text could not end here (the word, read as
   * finished, would complete a banned term), so it must not be shown until the next token settles it.
   */
  take(holdWord = false): string {
    if (this.cutAt !== undefined) return this.release(this.cutAt);
    return this.release(holdWord && this.inWord ? this.wordStart : this.wordEnd);
  }

  /** `add` then `take()`. */
  push(token: number): string {
    this.add(token);
    return this.take();
  }

  /** Ends the candidate; returns the rest of its final text (trailing whitespace, a last U+FFFD). */
  finish(): string {
    if (this.cutAt === undefined) {
      const added = this.decoder.finish();
      if (added.length > 0) {
        this.text += added;
        this.scan();
      }
    }
    return this.release(this.cutAt ?? this.text.length);
  }

  /** The final script: prompt and generated text cut to the budget (what `cutToWords` gives). */
  get finalText(): string {
    return this.cutAt === undefined ? this.text : this.text.slice(0, this.cutAt);
  }
}
