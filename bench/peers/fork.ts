// Node's own IPC: child_process.fork and process.send, with 'json' serialization (bytes as
// base64 strings) or 'advanced' (the V8 serializer, bytes as Buffers).
import { fork, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import type { Contender, StartOptions } from "../contender.js";
import { leastBusy, readyOrExit, stopChild, type Waiter } from "./child.js";
import { asBuffer } from "./work.js";

const childPath = path.join(__dirname, "fork-child.js");

interface Reply {
  readonly id: number;
  readonly ready?: boolean;
  readonly data?: string | Uint8Array;
  readonly size?: number;
}

class Channel {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  private readonly waiters = new Map<number, Waiter<Reply>>();
  private nextId = 1;

  constructor(serialization: "json" | "advanced") {
    this.child = fork(childPath, [serialization], { serialization, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let onReady!: () => void;
    this.ready = readyOrExit(this.child, new Promise<void>((resolve) => (onReady = resolve)), "fork worker");
    this.child.on("message", (reply: Reply) => {
      if (reply.ready) return onReady();
      const waiter = this.waiters.get(reply.id)!;
      this.waiters.delete(reply.id);
      waiter.resolve(reply);
    });
    this.child.on("exit", () => {
      for (const waiter of this.waiters.values()) waiter.reject(new Error("fork worker exited"));
      this.waiters.clear();
    });
  }

  get waiting(): number {
    return this.waiters.size;
  }

  request(message: { op: string; data?: string | Buffer; size?: number }): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.waiters.set(id, { resolve, reject });
      this.child.send({ id, ...message });
    });
  }
}

export class ForkContender implements Contender {
  readonly name: string;
  readonly version = `node ${process.version}`;
  readonly notes: string;
  private channels: Channel[] = [];
  private readonly encode: (bytes: Buffer) => string | Buffer;
  private readonly decode: (data: string | Uint8Array) => Buffer;

  constructor(private readonly serialization: "json" | "advanced") {
    this.name = `fork (${serialization})`;
    if (serialization === "json") {
      this.notes = "child_process.fork, serialization 'json', bytes as base64 strings";
      this.encode = (bytes) => bytes.toString("base64");
      this.decode = (data) => Buffer.from(data as string, "base64");
    } else {
      this.notes = "child_process.fork, serialization 'advanced' (V8 serializer), bytes as Buffers";
      this.encode = (bytes) => bytes;
      this.decode = (data) => asBuffer(data as Uint8Array);
    }
  }

  async start({ workers }: StartOptions): Promise<void> {
    this.channels = Array.from({ length: workers }, () => new Channel(this.serialization));
    await Promise.all(this.channels.map((channel) => channel.ready));
  }

  async call(payload: Buffer): Promise<Buffer> {
    const reply = await leastBusy(this.channels).request({ op: "echo", data: this.encode(payload) });
    return this.decode(reply.data!);
  }

  async send(payload: Buffer): Promise<number> {
    return (await leastBusy(this.channels).request({ op: "sink", data: this.encode(payload) })).size!;
  }

  async fetch(size: number): Promise<Buffer> {
    return this.decode((await leastBusy(this.channels).request({ op: "fill", size })).data!);
  }

  pids(): number[] {
    return this.channels.map((channel) => channel.child.pid!);
  }

  async close(): Promise<void> {
    await Promise.all(this.channels.map((channel) => stopChild(channel.child, () => channel.child.disconnect())));
    this.channels = [];
  }
}
