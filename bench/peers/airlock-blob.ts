// airlock with the argument already in shared memory: the caller filled a blob from
// pool.allocBlob() in place (as a native library or a file read would), so a call passes a
// handle and nothing is copied, whatever the size. Results come back as with plain airlock, and
// the caller gives each back once read (pool.releaseBlob), so that later ones land in warm memory.
import { fullSettings } from "../settings.js";
import type { StartOptions } from "../contender.js";
import { AirlockContender } from "./airlock.js";
import { pattern } from "./work.js";

export class AirlockBlobContender extends AirlockContender {
  override readonly name = "airlock (pre-allocated blob)";
  override readonly notes = "argument filled in place in pool.allocBlob() memory, once per size; the call passes its handle; results given back with releaseBlob once checked";
  private readonly blobs = new Map<number, Uint8Array>();

  // The caller fills its blobs before it calls, so filling them is not part of a timed call.
  override async start(options: StartOptions): Promise<void> {
    await super.start(options);
    for (const sizeMiB of fullSettings.payload.sizesMiB) this.blobFor(pattern(sizeMiB * 1024 * 1024));
  }

  override async send(payload: Buffer): Promise<number> {
    return (await this.client.sink({ data: this.blobFor(payload) })).size;
  }

  fetched(result: Buffer): void {
    this.pool!.releaseBlob(result);
  }

  private blobFor(payload: Buffer): Uint8Array {
    let blob = this.blobs.get(payload.length);
    if (!blob) {
      blob = this.pool!.allocBlob(payload.length);
      blob.set(payload);
      this.blobs.set(payload.length, blob);
    }
    return blob;
  }

  override async close(): Promise<void> {
    for (const blob of this.blobs.values()) this.pool?.releaseBlob(blob);
    this.blobs.clear();
    await super.close();
  }
}
