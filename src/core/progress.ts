/** Receives progress of long work; the CLI draws it on a terminal, libraries only call it. */
export interface ProgressReporter {
  /** `done` of `total` units (total may be unknown) with an optional short label. */
  update(done: number, total: number | undefined, label?: string): void;
  /** The work ended (successfully or not); clears any drawn line. */
  finish(): void;
}

/** A reporter that reports nothing: the default for library calls and piped output. */
export const silentProgress: ProgressReporter = {
  update() {},
  finish() {},
};

/**
 * A reporter that redraws one line on a terminal stream at most every `intervalMs`,
 * and is silent when the stream is not a TTY (so pipes and CI logs stay clean).
 */
export function terminalProgress(
  stream: NodeJS.WriteStream = process.stderr,
  intervalMs = 200,
): ProgressReporter {
  if (!stream.isTTY) return silentProgress;
  let last = 0;
  let drawn = false;
  return {
    update(done, total, label) {
      const now = Date.now();
      if (now - last < intervalMs && (total === undefined || done < total)) return;
      last = now;
      const pct = total ? ` ${((100 * done) / total).toFixed(1)}%` : '';
      const of = total === undefined ? '' : `/${total}`;
      stream.write(`\r\x1b[K${label ?? 'progress'}: ${done}${of}${pct}`);
      drawn = true;
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
