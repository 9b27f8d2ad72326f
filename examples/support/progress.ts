// The live status line of the long-running examples.

/** A status line that keeps itself current until stopped. */
export interface Progress {
  /** Prints the line one last time and stops. */
  stop(): void;
}

/**
 * Shows `render()` as one line rewritten in place on a terminal (10 times a second), or as a
 * plain line every `everyMs` when stdout is a file or a pipe (logs, CI), where `\r` would
 * only garble the output.
 */
export function showProgress(render: () => string, everyMs = 2000): Progress {
  const live = process.stdout.isTTY === true;
  // Cut to the terminal's width: a line that wraps can no longer be rewritten by `\r`.
  const show = () => (live ? process.stdout.write(`\r${render().slice(0, process.stdout.columns - 1)}\x1b[K`) : console.log(render()));
  // Driven by a timer, not by answers, so the line stays current while every worker is stuck.
  const timer = setInterval(show, live ? 100 : everyMs);
  return {
    stop() {
      clearInterval(timer);
      show();
      if (live) process.stdout.write("\n");
    },
  };
}
