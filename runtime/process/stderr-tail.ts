const defaultLimitBytes = 8192;

/** Keeps the last bytes a worker wrote to stderr, which is where a crash tells its story. */
export function createStderrTail(limitBytes = defaultLimitBytes): { push(chunk: Buffer): void; text(): string } {
  let kept = Buffer.alloc(0);
  let truncated = false;
  return {
    push(chunk) {
      kept = Buffer.concat([kept, chunk]);
      if (kept.length > limitBytes) {
        kept = kept.subarray(kept.length - limitBytes);
        truncated = true;
      }
    },
    text() {
      const text = kept.toString("utf8");
      // Once bytes were dropped the first line is a fragment; start at a whole line.
      const start = truncated ? text.indexOf("\n") + 1 : 0;
      return text.slice(start).trimEnd();
    },
  };
}
