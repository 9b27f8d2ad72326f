// The floor for a Node socket design: a child spawned with a Unix socketpair at fd 3 (as
// airlock does), 4-byte length-prefixed frames, replies matched in order, writes batched per
// tick. No ids, no deadlines, no protobuf, no supervision.
import { spawn, type ChildProcess } from "node:child_process";
import type { Socket } from "node:net";
import * as path from "node:path";
import type { Contender, StartOptions } from "../contender.js";
import { Fifo, leastBusy, readyOrExit, stopChild, type Waiter } from "./child.js";
import { frameReader, frameWriter, Op, u32 } from "./raw-frames.js";

const childPath = path.join(__dirname, "raw-socket-child.js");

class Channel {
  readonly child: ChildProcess;
  readonly socket: Socket;
  readonly ready: Promise<void>;
  private readonly write: (op: number, body: Uint8Array) => void;
  private readonly replies = new Fifo<Waiter<Buffer>>();
  private streaming: { remaining: number; done(): void } | undefined;

  constructor(execArgv: readonly string[]) {
    this.child = spawn(process.execPath, [...execArgv, childPath], { stdio: ["ignore", "inherit", "inherit", "pipe"] });
    this.socket = this.child.stdio[3] as Socket;
    this.write = frameWriter(this.socket);
    let onReady!: () => void;
    this.ready = readyOrExit(this.child, new Promise<void>((resolve) => (onReady = resolve)), "raw socket worker");
    this.socket.on(
      "data",
      frameReader((op, body) => {
        if (op === Op.Ready) onReady();
        else if (op === Op.Stream) this.streamed();
        else this.replies.shift()!.resolve(body);
      }),
    );
    const fail = () => {
      for (const waiter of this.replies.drain()) waiter.reject(new Error("raw socket worker exited"));
    };
    this.socket.on("error", fail);
    this.child.on("exit", fail);
  }

  get waiting(): number {
    return this.replies.length;
  }

  /** Has the worker send `count` frames of `size` bytes; resolves once all have arrived. */
  stream(count: number, size: number): Promise<void> {
    return new Promise((done) => {
      this.streaming = { remaining: count, done };
      this.write(Op.Stream, Buffer.from(new Uint32Array([count, size]).buffer));
    });
  }

  private streamed(): void {
    if (--this.streaming!.remaining === 0) this.streaming!.done();
  }

  request(op: number, body: Uint8Array): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.replies.push({ resolve, reject });
      this.write(op, body);
    });
  }
}

export class RawSocketContender implements Contender {
  readonly name = "raw socket";
  readonly version = `node ${process.version}`;
  readonly notes = "socketpair at fd 3, 4-byte length frames, in-order replies, writes corked per tick, 8 frames per writev at most (as airlock)";
  private channels: Channel[] = [];

  /** @param execArgv Node options for the workers (the profiler uses it). */
  constructor(private readonly execArgv: readonly string[] = []) {}

  async start({ workers }: StartOptions): Promise<void> {
    this.channels = Array.from({ length: workers }, () => new Channel(this.execArgv));
    await Promise.all(this.channels.map((channel) => channel.ready));
  }

  call(payload: Buffer): Promise<Buffer> {
    return leastBusy(this.channels).request(Op.Echo, payload);
  }

  async send(payload: Buffer): Promise<number> {
    return (await leastBusy(this.channels).request(Op.Sink, payload)).readUInt32LE(0);
  }

  fetch(size: number): Promise<Buffer> {
    return leastBusy(this.channels).request(Op.Fill, u32(size));
  }

  /** A server stream of `count` frames of `size` bytes from one worker. */
  stream(count: number, size: number): Promise<void> {
    return this.channels[0]!.stream(count, size);
  }

  pids(): number[] {
    return this.channels.map((channel) => channel.child.pid!);
  }

  async close(): Promise<void> {
    await Promise.all(this.channels.map((channel) => stopChild(channel.child, () => channel.socket.end())));
    this.channels = [];
  }
}
