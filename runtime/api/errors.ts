import { Code, isCode } from "./code.js";

/**
 * Why a worker ended, as one word a program can test: it died by a `signal` or an `exit` of its
 * own, ran `out-of-memory` (its JavaScript heap), or the pool killed it because it `hung`
 * (attempt timeout), ignored a cancellation (`cancel-ignored`), was `stopped` or `unresponsive`
 * (heartbeats), broke the `protocol`, closed its channel (`channel-closed`), never called
 * serve() (`start-timeout`), or because of the `pool` itself (closing, recycling, a failed start).
 */
export type ExitCause =
  | "signal"
  | "exit"
  | "out-of-memory"
  | "hung"
  | "cancel-ignored"
  | "stopped"
  | "unresponsive"
  | "protocol"
  | "channel-closed"
  | "start-timeout"
  | "pool";

/** How one attempt ended when its worker went away: the facts needed to debug a crash. */
export interface CrashFacts {
  /** Why, as one word a program can test ("signal", "exit", "hung", "stopped", ...): see ExitCause. */
  readonly cause: ExitCause;
  /** The worker process; in thread isolation, this process. */
  readonly pid: number;
  /** The worker thread, in thread isolation. */
  readonly threadId?: number;
  /** Exit code when the worker exited by itself, else null. */
  readonly exitCode: number | null;
  /** Signal name (SIGSEGV, SIGKILL...) when the worker was killed, else null. */
  readonly signal: string | null;
  /** Which attempt of the call was running, 1-based. */
  readonly attempt: number;
  /** Milliseconds from dispatch to the worker's death. */
  readonly elapsedMs: number;
  /** Last lines the worker wrote to stderr. */
  readonly stderrTail: string;
  /** Why the supervisor thinks it died, in words (for example "killed by SIGSEGV"). */
  readonly reason: string;
  /**
   * What the pool did to the worker, when it acted: the signal it sent and why ("SIGKILL: hung:
   * no answer within ..."). Present even when the worker died of something else first, in which
   * case `cause`, `signal` and `exitCode` tell what it died of.
   */
  readonly poolAction?: string;
}

/** Everything an AirlockError may know besides its code and message. */
export interface ErrorDetails {
  /** "/package.Service/Method" of the call, when the error belongs to one. */
  readonly method?: string;
  /** Attempt number the error came from. */
  readonly attempt?: number;
  /** Facts of the crash that ended the call, and of every earlier crashed attempt. */
  readonly crashes?: readonly CrashFacts[];
  /** Replies a stream delivered before the error ended it. */
  readonly delivered?: number;
  /** Stack trace of the error as thrown inside the worker. */
  readonly remoteStack?: string;
  /** Tail of a worker's stderr when it failed outside a call (for example at start-up). */
  readonly stderrTail?: string;
  /** The worker the error is about, when it failed outside a call. */
  readonly pid?: number;
  /** How that worker ended: its exit code, or the signal that killed it. */
  readonly exitCode?: number | null;
  readonly signal?: string | null;
}

/** The one error type of airlock: a status code, a message, and the facts behind it. */
export class AirlockError extends Error {
  override readonly name = "AirlockError";

  /** Creates an error whose message is prefixed with its code, as gRPC and Connect print them. */
  constructor(
    readonly code: Code,
    readonly rawMessage: string,
    readonly details: ErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(`[${code}] ${rawMessage}`, options);
  }

  /** Facts of the crash that ended the call, if a crash did. */
  get crash(): CrashFacts | undefined {
    const crashes = this.details.crashes;
    return crashes?.[crashes.length - 1];
  }

  /** Turns anything thrown into an AirlockError, keeping an existing code when there is one. */
  static from(reason: unknown, fallback: Code = Code.Unknown): AirlockError {
    if (reason instanceof AirlockError) return reason;
    if (reason instanceof Error) {
      const code = (reason as { code?: unknown }).code;
      return new AirlockError(isCode(code) ? code : fallback, reason.message, {}, { cause: reason });
    }
    return new AirlockError(fallback, String(reason));
  }
}
