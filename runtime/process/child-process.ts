import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import * as path from "node:path";
import { performance } from "node:perf_hooks";
import { randomInt } from "node:crypto";
import { createArenaFd, openReadableArena, type ReadableArena } from "../blobs/blob-arena.js";
import { Code } from "../api/code.js";
import { AirlockError, type ExitCause } from "../api/errors.js";
import { createFrameReader, createFrameWriter, decodeJsonBody, encodeFrame, FrameType, type Frame, type FrameWriter } from "../wire/frame.js";
import type { WindowLimits } from "../wire/stream-window.js";
import { createStderrTail } from "./stderr-tail.js";
import type { BlobOptions } from "../api/pool-options.js";
import { nativeAddon, nativeAddonFile } from "../os/native.js";
import { workerEnv, workerExitCodes } from "../os/worker-env.js";
import { snapshotArgs } from "../worker/snapshot/worker-snapshot.js";


/** How a worker process ended, as the parent saw it. */
export interface WorkerExit {
  readonly pid: number;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly cause: ExitCause;
  /** In words: "killed by SIGSEGV", "exited with code 3", "broke the protocol: ...". */
  readonly reason: string;
  readonly stderrTail: string;
  /** What the pool did to the worker, when it acted ("SIGKILL: hung: ..."), whether or not its signal is what ended it. */
  readonly poolAction?: string;
}

/** What a worker process needs to know to start. */
export interface WorkerSpawnOptions {
  readonly module: string;
  readonly execArgv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly forwardStderr: boolean;
  readonly maxFrameBytes: number;
  readonly startTimeoutMs: number;
  readonly streamWindow: WindowLimits;
  /** Shared memory for blobs, with the read-only descriptor of the pool's argument arena; undefined when blobs are off. */
  readonly blobs?: Required<BlobOptions> & { readonly argumentFd: number };
}

/** Callbacks through which a worker process reports to its supervisor. */
export interface WorkerEvents {
  /** A frame about a call (its reply, error, or a stream's message, credit or end), or a heartbeat's answer; `receivedAt` is when its bytes were read (performance.now()). */
  onFrame(worker: WorkerProcess, frame: Frame, receivedAt: number): void;
  /** The process is gone; called once, after its stderr has been read. */
  onExit(worker: WorkerProcess, exit: WorkerExit): void;
}

/** The parent's handle on one worker process and its control channel. */
export interface WorkerProcess {
  readonly pid: number;
  /** Resolves when the worker has called serve(); rejects with WORKER_START_FAILED otherwise. */
  readonly ready: Promise<void>;
  /** Queues frames on the control channel. */
  readonly writer: FrameWriter;
  /** Kills the process; its exit will report the cause and the reason in words. */
  kill(cause: ExitCause, reason: string, signal?: NodeJS.Signals): void;
  /** Asks the process to leave by closing the channel: it exits when it sees the end. */
  end(): void;
  /** Whether the process has exited. */
  readonly exited: boolean;
  /** The worker's result arena, mapped read-only here, and the generation its handles must carry. */
  readonly results: (ReadableArena & { readonly generation: number }) | undefined;
}

const workerMain = path.join(__dirname, "..", "worker", "process-main.js");
const channelFd = 3;
// The arenas sit right after the control channel in the child's descriptor table.
const argumentArenaFd = 4;
const resultArenaFd = 5;
const channelLossGraceMs = 50;
// How long a dead worker's stderr and channel are read for what they still hold.
const exitReadGraceMs = 100;
// Frames a worker sends about its calls once started, besides heartbeats' answers.
const answerTypes = new Set<number>([FrameType.Reply, FrameType.Error, FrameType.Pong, FrameType.Message, FrameType.Credit, FrameType.End]);
const heapExhausted = /JavaScript heap out of memory/;

/** Spawns a worker process running `options.module` and wires its control channel. */
export function spawnWorker(options: WorkerSpawnOptions, events: WorkerEvents): WorkerProcess {
  const { blobs } = options;
  // The parent creates and seals the result arena, so that the worker cannot shrink it under
  // the parent's mapping; the worker gets the only writable descriptor.
  const resultFd = blobs && createArenaFd("airlock-results", blobs.resultArenaBytes);
  const generation = randomInt(1, 0xffffffff);
  let results: WorkerProcess["results"];
  let child: ReturnType<typeof spawn>;
  try {
    results = resultFd === undefined ? undefined : { ...openReadableArena(resultFd, blobs!.resultArenaBytes), generation };
    child = spawn(process.execPath, [...snapshotArgs(options.execArgv, options.env), ...options.execArgv, workerMain, options.module], {
      // Its own process group (and session), so that the processes it starts can be ended
      // with it: when it exits (see finish) or when this process dies (worker/process-main).
      detached: true,
      stdio: ["ignore", "inherit", "pipe", "pipe", ...(blobs ? [blobs.argumentFd, resultFd!] : [])],
      env: {
        ...options.env,
        [workerEnv.channelFd]: String(channelFd),
        [workerEnv.parentPid]: String(process.pid),
        [workerEnv.maxFrameBytes]: String(options.maxFrameBytes),
        [workerEnv.streamWindow]: `${options.streamWindow.messages}:${options.streamWindow.bytes}`,
        ...nativeAddonVariable(),
        ...(blobs && {
          [workerEnv.argumentArena]: `${argumentArenaFd}:${blobs.argumentArenaBytes}`,
          [workerEnv.resultArena]: `${resultArenaFd}:${blobs.resultArenaBytes}:${generation}`,
          [workerEnv.blobThreshold]: String(blobs.thresholdBytes),
        }),
      },
    });
  } finally {
    // The child has its copy; the mapping keeps the memory alive on this side.
    if (resultFd !== undefined) closeFd(resultFd);
  }
  const socket = child.stdio[channelFd] as Socket;
  const tail = createStderrTail();
  let killReason: string | undefined;
  let killCause: ExitCause | undefined;
  let killSignal: NodeJS.Signals | undefined;
  let loadFailure: string | undefined;
  let settleReady!: (error?: AirlockError) => void;
  const ready = new Promise<void>((resolve, reject) => {
    settleReady = (error) => (error ? reject(error) : resolve());
  });
  let isReady = false;
  let startError: AirlockError | undefined;
  // The supervisor may learn of a failed start from onExit first; never leave this unhandled.
  ready.catch(() => undefined);

  // `exited` is a field set once, not a getter: V8 gives an object literal with a getter a
  // dictionary of properties, and the supervisor reads this object on every call.
  const worker: { -readonly [K in keyof WorkerProcess]: WorkerProcess[K] } = {
    pid: child.pid ?? -1,
    ready,
    writer: createFrameWriter(socket),
    kill(cause, reason, signal = "SIGKILL") {
      killCause ??= cause;
      killReason ??= reason;
      killSignal = signal;
      child.kill(signal);
    },
    end() {
      socket.end(encodeFrame(FrameType.Leave, 0));
    },
    exited: false,
    results,
  };

  const startFailure = (message: string, facts: { remoteStack?: string; exitCode?: number | null; signal?: string | null }) =>
    new AirlockError(Code.WorkerStartFailed, `worker ${worker.pid} (${options.module}) did not start: ${message}`, {
      pid: worker.pid,
      stderrTail: tail.text(),
      ...facts,
    });

  const startTimer = setTimeout(() => {
    worker.kill("start-timeout", `did not call serve() within ${options.startTimeoutMs} ms`);
  }, options.startTimeoutMs);

  const read = createFrameReader((frame) => {
    if (frame.type === FrameType.Ready) {
      clearTimeout(startTimer);
      isReady = true;
      settleReady();
    } else if (frame.type === FrameType.StartFailed) {
      const body = decodeJsonBody(frame);
      loadFailure = `failed to load: ${String(body.message)}`;
      // A remoteStack (even empty) is what tells the supervisor the module itself threw.
      startError = startFailure(`its module failed to load: ${String(body.message)}`, { remoteStack: stringOrUndefined(body.stack) ?? "" });
    } else if (answerTypes.has(frame.type)) {
      events.onFrame(worker, frame, receivedAt);
    } else {
      throw new AirlockError(Code.Protocol, `unexpected frame type ${frame.type} from a worker`);
    }
  }, options.maxFrameBytes);

  // One clock read for all the frames of a chunk: they arrived together.
  let receivedAt = 0;
  socket.on("data", (chunk: Buffer) => {
    receivedAt = performance.now();
    try {
      read(chunk);
    } catch (error) {
      worker.kill("protocol", `broke the protocol: ${(error as Error).message}`);
    }
  });
  // A worker that closes its end of the channel can no longer answer: make sure it is gone.
  // The end usually means the process is dying anyway, so give its exit a moment to arrive
  // first and keep the true cause (a signal, an exit code) as the reason.
  const killUnlessExited = (reason: string) => {
    setTimeout(() => worker.exited || worker.kill("channel-closed", reason), channelLossGraceMs).unref();
  };
  socket.on("end", () => killUnlessExited("closed its control channel"));
  socket.on("error", (error) => killUnlessExited(`control channel failed: ${error.message}`));

  child.stderr!.on("data", (chunk: Buffer) => {
    tail.push(chunk);
    if (options.forwardStderr) process.stderr.write(chunk);
  });
  child.on("error", (error) => {
    // Spawn itself failed (for example EAGAIN); there is no process to wait for.
    if (child.pid === undefined) finish(null, null, `could not be spawned: ${error.message}`);
  });
  child.on("exit", (exitCode, signal) => {
    killProcessGroup(worker.pid);
    // stderr may still hold the last words of a crash, and the channel the frames the worker
    // wrote just before it died (a reply, a stream's messages), which the exit can overtake:
    // wait briefly for the end of both.
    const timer = setTimeout(() => finish(exitCode, signal), exitReadGraceMs);
    void Promise.all([ended(child.stderr!), ended(socket)]).then(() => {
      clearTimeout(timer);
      finish(exitCode, signal);
    });
  });

  function finish(exitCode: number | null, signal: NodeJS.Signals | null, spawnFailure?: string): void {
    if (worker.exited) return;
    worker.exited = true;
    clearTimeout(startTimer);
    socket.destroy();
    child.stderr?.destroy();
    // Replies were copied out as they arrived: nothing refers to this mapping any more.
    results?.close();
    // The pool's cause stands when its own signal ended the worker. A worker that died by
    // itself while the pool was killing it (a SIGABRT racing the attempt timeout's SIGKILL) died
    // of what it did; what the pool did is kept beside it.
    const poolEnded = killCause !== undefined && signal === killSignal;
    const poolAction = killCause === undefined ? undefined : `${killSignal}: ${killReason}`;
    // V8 aborts a process whose heap is full; only its last words say why.
    const outOfHeap = !poolEnded && heapExhausted.test(tail.text());
    const closedInside = !poolEnded && exitCode === workerExitCodes.channelClosedInside;
    const why = spawnFailure ?? (poolEnded ? killReason : loadFailure ?? (outOfHeap ? "out of JavaScript heap" : closedInside ? "it closed its own control channel" : undefined));
    let reason = describeExit(exitCode, signal, why);
    if (!poolEnded && poolAction !== undefined) reason += `, before the pool's ${poolAction} took effect`;
    // When the pool killed it (start timeout), the pool's reason is the fact, not the signal.
    if (!isReady) settleReady(startError ?? startFailure(reason, poolEnded ? {} : { exitCode, signal }));
    const cause = poolEnded ? killCause! : outOfHeap ? "out-of-memory" : closedInside ? "channel-closed" : signal ? "signal" : "exit";
    events.onExit(worker, { pid: worker.pid, exitCode, signal, cause, reason, stderrTail: tail.text(), ...(poolAction && { poolAction }) });
  }

  return worker;
}

// Ends what the worker left running in its group. The group outlives its leader only while
// members remain, so its id cannot have been reused; with none left there is nothing to do.
function killProcessGroup(pid: number): void {
  if (pid <= 0) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is empty.
  }
}

// Without it, a worker looks for the addon itself, and reports what it does not find as a
// failed start, as it always did.
function nativeAddonVariable(): Record<string, string> {
  try {
    return { [workerEnv.nativeAddon]: nativeAddonFile() };
  } catch {
    return {};
  }
}

function closeFd(fd: number): void {
  nativeAddon().close(fd);
}

function describeExit(exitCode: number | null, signal: string | null, cause: string | undefined): string {
  const how = signal ? `killed by ${signal}` : `exited with code ${exitCode}`;
  return cause ? `${how} (${cause})` : how;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** Resolves once everything `stream` will give has been read (its end), or at once if it is over. */
function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
  });
}
