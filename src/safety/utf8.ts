/** U+FFFD, what a decoder writes for bytes that are not UTF-8. */
export const REPLACEMENT = 0xfffd;

/**
 * A streaming UTF-8 decoder that follows the WHATWG Encoding Standard's algorithm step by step, so that it
 * replaces invalid bytes exactly as `TextDecoder` does: the mask sees the same code points as the checker
 * that reads the decoded candidate. Its whole state is five small integers, readable as a key.
 */
export class Utf8Stream {
  private codePoint = 0;
  private seen = 0;
  private needed = 0;
  private lower = 0x80;
  private upper = 0xbf;

  /** Feeds one byte; `emit` receives each code point completed by it. */
  push(byte: number, emit: (cp: number) => void): void {
    if (this.needed === 0) {
      if (byte <= 0x7f) emit(byte);
      else if (byte >= 0xc2 && byte <= 0xdf) {
        this.needed = 1;
        this.codePoint = byte & 0x1f;
      } else if (byte >= 0xe0 && byte <= 0xef) {
        if (byte === 0xe0) this.lower = 0xa0;
        if (byte === 0xed) this.upper = 0x9f;
        this.needed = 2;
        this.codePoint = byte & 0xf;
      } else if (byte >= 0xf0 && byte <= 0xf4) {
        if (byte === 0xf0) this.lower = 0x90;
        if (byte === 0xf4) this.upper = 0x8f;
        this.needed = 3;
        this.codePoint = byte & 0x7;
      } else emit(REPLACEMENT);
      return;
    }
    if (byte < this.lower || byte > this.upper) {
      this.reset();
      emit(REPLACEMENT);
      // The standard prepends the offending byte to the stream: it may start a new sequence.
      this.push(byte, emit);
      return;
    }
    this.lower = 0x80;
    this.upper = 0xbf;
    this.codePoint = (this.codePoint << 6) | (byte & 0x3f);
    if (++this.seen === this.needed) {
      const cp = this.codePoint;
      this.reset();
      emit(cp);
    }
  }

  /** Ends the stream: an unfinished sequence becomes one U+FFFD. */
  finish(emit: (cp: number) => void): void {
    if (this.needed !== 0) {
      this.reset();
      emit(REPLACEMENT);
    }
  }

  /** The decoder's state as a short string. */
  key(): string {
    return this.needed === 0
      ? ''
      : `${this.codePoint}.${this.seen}.${this.needed}.${this.lower}.${this.upper}`;
  }

  /** Restores a state from `key()`. */
  restore(key: string): void {
    if (key === '') {
      this.reset();
      return;
    }
    const [cp, seen, needed, lower, upper] = key.split('.').map(Number);
    this.codePoint = cp!;
    this.seen = seen!;
    this.needed = needed!;
    this.lower = lower!;
    this.upper = upper!;
  }

  private reset(): void {
    this.codePoint = 0;
    this.seen = 0;
    this.needed = 0;
    this.lower = 0x80;
    this.upper = 0xbf;
  }
}
