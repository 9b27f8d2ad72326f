// The reference for large payloads: one memcpy into memory that is already faulted in, in this
// process. Issue 4's target for a plain 64 MiB argument is within 2x of this, in the same run.
import type { Contender } from "../contender.js";
import { fullSettings } from "../settings.js";
import { pattern } from "./work.js";

export class MemcpyReference implements Contender {
  readonly name = "memcpy into warm memory (reference)";
  readonly version = process.version;
  readonly notes = "no other process: Uint8Array.set into a buffer written once before, per size";
  private readonly warm = new Map<number, Buffer>();
  private readonly made = new Map<number, Buffer>();

  // Every target buffer is written once before timing: the reference is memory already faulted in.
  async start(): Promise<void> {
    for (const sizeMiB of fullSettings.payload.sizesMiB) this.copy(pattern(sizeMiB * 1024 * 1024));
  }

  async call(payload: Buffer): Promise<Buffer> {
    return Buffer.from(this.copy(payload));
  }

  async send(payload: Buffer): Promise<number> {
    return this.copy(payload).length;
  }

  async fetch(size: number): Promise<Buffer> {
    // Like the workers, the result is made once and kept; only the copy is timed.
    let made = this.made.get(size);
    if (!made) {
      made = pattern(size);
      this.made.set(size, made);
    }
    return this.copy(made);
  }

  pids(): number[] {
    return [];
  }

  async close(): Promise<void> {
    this.warm.clear();
    this.made.clear();
  }

  private copy(payload: Buffer): Buffer {
    let target = this.warm.get(payload.length);
    if (!target) {
      target = Buffer.alloc(payload.length, 1);
      this.warm.set(payload.length, target);
    }
    target.set(payload);
    return target;
  }
}
