/**
 * The parent's side of one streaming call, for both cages: it pumps the caller's requests to
 * the running attempt as the worker's window allows, keeps those sent for replay until the call
 * commits, and queues the replies for the caller, crediting the worker as the caller takes
 * them. Retries follow gRPC's commit rule (A6): a call may be retried until its first reply
 * arrives or its sent requests outgrow the replay buffer; then it is committed.
 */
import { Code } from "../api/code.js";
import type { MethodDefinition } from "../api/definition.js";
import { AirlockError } from "../api/errors.js";
import { ReceiveWindow, SendWindow, type WindowLimits } from "../wire/stream-window.js";
import { createFifo } from "./fifo.js";

/** What a stream tells the worker running its attempt; the cage makes one per attempt. */
export interface StreamLink<Cargo> {
  /** Sends one request message. */
  send(message: Cargo): void;
  /** Says that no more requests follow. */
  halfClose(): void;
  /** Grants the worker `messages` more replies. */
  credit(messages: number): void;
}

/** How a stream's requests become what the cage sends, and are freed. */
export interface RequestCodec<Cargo> {
  /** Encodes one request; what it throws fails the call. */
  encode(request: unknown): Cargo;
  /** Its size for the window: protobuf bytes plus blob bytes. */
  sizeOf(cargo: Cargo): number;
  /** Frees it once no worker will read it. */
  free(cargo: Cargo): void;
}

/** The windows and the replay buffer of a pool's streams. */
export interface StreamLimits {
  /** What each side may have sent and the other not consumed. */
  readonly window: WindowLimits;
  /** Requests kept for replay up to this many bytes; past it the call commits. */
  readonly replayBytes: number;
}

/** What the call core does for a stream. */
export interface StreamHooks {
  /** The caller began iterating: admit the call. */
  start(): void;
  /** The caller left the iteration early, or its requests failed: settle the call with `error`. */
  abandon(error: AirlockError): void;
}

/** One streaming call, seen by its caller as the AsyncIterable of its replies. */
export class CallStream<Cargo> implements AsyncIterableIterator<unknown> {
  hooks: StreamHooks | undefined;
  /** No retry from here on: a reply arrived, or the replay buffer overflowed. */
  committed = false;
  /** Replies that arrived, and so are or will be delivered to the caller. */
  arrived = 0;

  // Requests: the caller's iterator, those read and not yet known to be consumed by a committed
  // attempt (buffer[0] is request number `bufferBase`), and this attempt's progress through them.
  readonly #input: AsyncIterator<unknown>;
  #pulling = false;
  #inputDone = false;
  #buffer: Cargo[] = [];
  #bufferBase = 0;
  #bufferedBytes = 0;
  #sentUpTo = 0;
  #creditedUpTo = 0;
  #halfClosed = false;
  #sendWindow: SendWindow;
  #link: StreamLink<Cargo> | undefined;
  #disposed = false;

  // Replies waiting for the caller and their sizes (side by side: no object per reply), the end
  // once known, and a caller waiting for either.
  readonly #replies = createFifo<unknown>();
  readonly #replySizes = createFifo<number>();
  #receiveWindow: ReceiveWindow;
  #end: { readonly error: AirlockError | undefined } | undefined;
  #waiting: { resolve(result: IteratorResult<unknown>): void; reject(error: unknown): void } | undefined;
  #started = false;

  /** Made by the call core for each stream() call. */
  constructor(
    readonly method: MethodDefinition,
    requests: AsyncIterable<unknown>,
    private readonly codec: RequestCodec<Cargo>,
    private readonly limits: StreamLimits,
  ) {
    this.#input = requests[Symbol.asyncIterator]();
    this.#sendWindow = new SendWindow(limits.window);
    this.#receiveWindow = new ReceiveWindow(limits.window);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The next reply; the first call admits the stream. */
  next(): Promise<IteratorResult<unknown>> {
    if (!this.#started) {
      this.#started = true;
      this.hooks!.start();
    }
    if (this.#replies.peek() !== undefined) return Promise.resolve({ value: this.#take(), done: false });
    if (this.#end) return this.#ended();
    return new Promise((resolve, reject) => (this.#waiting = { resolve, reject }));
  }

  /** The caller left early: the call is cancelled, in its worker too. */
  return(): Promise<IteratorResult<unknown>> {
    if (this.#started && !this.#end) this.hooks!.abandon(new AirlockError(Code.Cancelled, "the caller stopped reading the stream", { method: this.method.path }));
    this.#end ??= { error: undefined };
    this.#replies.drain();
    this.#replySizes.drain();
    return Promise.resolve({ value: undefined, done: true });
  }

  #take(): unknown {
    const message = this.#replies.shift();
    const credit = this.#receiveWindow.consumed(this.#replySizes.shift()!, this.#replies.peek() === undefined);
    if (credit > 0) this.#link?.credit(credit);
    return message;
  }

  #ended(): Promise<IteratorResult<unknown>> {
    const { error } = this.#end!;
    return error ? Promise.reject(error) : Promise.resolve({ value: undefined, done: true });
  }

  // ---- the core's side ----

  /** An attempt starts on a worker: requests go to it from the first one kept (a retry replays them). */
  attach(link: StreamLink<Cargo>): void {
    this.#link = link;
    this.#sentUpTo = this.#creditedUpTo = this.#bufferBase;
    this.#halfClosed = false;
    this.#sendWindow = new SendWindow(this.limits.window);
    this.#receiveWindow = new ReceiveWindow(this.limits.window);
    this.#pump();
  }

  /** The attempt is over: nothing more goes to its worker. */
  detach(): void {
    this.#link = undefined;
  }

  /** The call settled: the replies end with `error` (once those already here are read), or well. */
  finish(error: AirlockError | undefined): void {
    if (this.#end) return;
    this.#end = { error: error && new AirlockError(error.code, error.rawMessage, { ...error.details, delivered: this.arrived }, { cause: error.cause }) };
    this.detach();
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) this.#ended().then(waiting.resolve, waiting.reject);
    if (!this.#inputDone) {
      this.#inputDone = true;
      // The caller's generator gets to run its finally blocks.
      void Promise.resolve(this.#input.return?.()).catch(() => undefined);
    }
  }

  /** Frees every request kept: no worker reads them any more. */
  dispose(): void {
    this.#disposed = true;
    for (const cargo of this.#buffer) this.codec.free(cargo);
    this.#buffer = [];
    this.#bufferedBytes = 0;
  }

  /** A reply from the running attempt; returns why it is a protocol breach, or undefined. */
  received(message: unknown, size: number): string | undefined {
    if (!this.#receiveWindow.arrived(size)) return `it sent more than the stream's window of ${this.limits.window.messages} messages or ${this.limits.window.bytes} bytes`;
    if (this.method.kind === "client_streaming" && this.arrived > 0) return "it sent a second reply to a client-streaming call";
    this.arrived += 1;
    if (!this.committed) this.#commit();
    if (this.#end) return undefined;
    this.#replies.push(message);
    this.#replySizes.push(size);
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve({ value: this.#take(), done: false });
    }
    return undefined;
  }

  /** Why the worker's end of the stream breaks the protocol, or undefined. */
  endBreach(): string | undefined {
    return this.method.kind === "client_streaming" && this.arrived === 0 ? "it ended a client-streaming call without a reply" : undefined;
  }

  /** The worker consumed `messages` more requests; returns why that breaks the protocol, or undefined. */
  credited(messages: number): string | undefined {
    if (!this.#sendWindow.credited(messages)) return `it credited ${messages} requests, more than were sent`;
    this.#creditedUpTo += messages;
    if (this.committed) this.#dropConsumed();
    this.#pump();
    return undefined;
  }

  // ---- requests ----

  #pump(): void {
    const link = this.#link;
    while (link === this.#link && link && this.#sendWindow.open) {
      const next = this.#sentUpTo - this.#bufferBase;
      if (next < this.#buffer.length) {
        const cargo = this.#buffer[next]!;
        this.#sentUpTo += 1;
        this.#sendWindow.sent(this.codec.sizeOf(cargo));
        link.send(cargo);
        continue;
      }
      if (this.#inputDone) {
        if (!this.#halfClosed && !this.#end) {
          this.#halfClosed = true;
          link.halfClose();
        }
        return;
      }
      if (!this.#pulling) {
        this.#pulling = true;
        this.#input.next().then(
          (result) => this.#pulled(result),
          (error: unknown) => this.#inputFailed(AirlockError.from(error), "the request stream failed"),
        );
      }
      return;
    }
  }

  #pulled(result: IteratorResult<unknown>): void {
    this.#pulling = false;
    if (this.#end || this.#disposed) return;
    if (result.done) {
      this.#inputDone = true;
      return this.#pump();
    }
    let cargo: Cargo;
    try {
      cargo = this.codec.encode(result.value);
    } catch (error) {
      return this.#inputFailed(error as AirlockError, "a request could not be sent");
    }
    this.#buffer.push(cargo);
    this.#bufferedBytes += this.codec.sizeOf(cargo);
    if (!this.committed && this.#bufferedBytes > this.limits.replayBytes) this.#commit();
    this.#pump();
  }

  #inputFailed(error: AirlockError, what: string): void {
    this.#pulling = false;
    this.#inputDone = true;
    if (this.#end) return;
    this.hooks!.abandon(new AirlockError(error.code, `${what}: ${error.rawMessage}`, { ...error.details, method: this.method.path }, { cause: error }));
  }

  #commit(): void {
    this.committed = true;
    this.#dropConsumed();
  }

  // Requests the committed attempt's worker has consumed are never sent again.
  #dropConsumed(): void {
    const consumed = this.#creditedUpTo - this.#bufferBase;
    if (consumed <= 0) return;
    for (const cargo of this.#buffer.splice(0, consumed)) {
      this.#bufferedBytes -= this.codec.sizeOf(cargo);
      this.codec.free(cargo);
    }
    this.#bufferBase += consumed;
  }
}
