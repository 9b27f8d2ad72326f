// The worker of the streaming tests: streams of every kind that fail, in a real way, at the
// message the request names.
import { setTimeout as sleep } from "node:timers/promises";
import { AirlockError, Code, isCode, serve } from "airlock";
import { StreamServiceDefinition } from "../gen/airlock/test/v1/stream_airlock.js";
import { channelSocket, runningCallIds, substitute } from "../support/channel.js";
import { crash } from "../support/crash.js";

let aborted = 0;
let finalized = 0;

function pattern(size: number, index: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) data[i] = (index + i / 4096) & 255;
  return data;
}

serve(StreamServiceDefinition, {
  async *count(request, context) {
    context.signal.addEventListener("abort", () => (aborted += 1));
    try {
      const failing = request.crashAttempts === 0 || context.attempt <= request.crashAttempts;
      for (let index = 0; index < request.count; index++) {
        // The crash comes in the tick that sent the reply before it: the worker dies with that
        // reply just written, which its exit must not overtake.
        if (failing && index === request.crashAt && request.crash) crash(request.crash);
        if (failing && index === request.crashAt && request.fail) throw new AirlockError(isCode(request.fail) ? request.fail : Code.Unknown, `failed at reply ${index}`);
        if (request.delayMs > 0) await sleep(request.delayMs, undefined, request.stubborn ? undefined : { signal: context.signal });
        yield { index, data: pattern(request.size, index), attempt: context.attempt, pid: process.pid, rssBytes: BigInt(process.memoryUsage.rss()) };
      }
    } finally {
      finalized += 1;
    }
  },
  async sum(requests, context) {
    let total = 0n;
    let bytes = 0n;
    let count = 0;
    let checksum = 0;
    let shared = false;
    for await (const request of requests) {
      if (request.crash && context.attempt === 1) crash(request.crash);
      total += request.value;
      bytes += BigInt(request.data.length);
      count += 1;
      for (const byte of request.data) checksum = (checksum * 31 + byte) >>> 0;
      if (request.delayMs > 0) await sleep(request.delayMs, undefined, { signal: context.signal });
      shared ||= request.data.buffer instanceof SharedArrayBuffer || request.data.byteLength !== request.data.buffer.byteLength;
    }
    return { total, bytes, count, attempt: context.attempt, checksum, shared };
  },
  async *echo(requests) {
    for await (const request of requests) {
      if (request.crash) crash(request.crash);
      // Turns hostile: writes the request's bytes to the control channel as they are, with
      // 0xAAAAAAAA standing for this stream's call id.
      if (request.text === "attack") {
        channelSocket().write(substitute(request.data, 0xaaaaaaaa, runningCallIds().at(-1) ?? 0));
        continue;
      }
      yield { text: request.text, data: request.data, pid: process.pid };
    }
  },
  report: () => ({ aborted, finalized, pid: process.pid }),
});
