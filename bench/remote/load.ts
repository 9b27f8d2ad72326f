// `npm run load:remote [-- --seconds 10 --callers 64]`: `airlock serve` with 2 worker processes
// on 127.0.0.1, called by 64 grpc-js callers at once (over 4 connections) for 10 s. Every reply
// is checked against its request (each carries its caller and sequence number), no call may be
// lost or fail, and the server process's resident memory, sampled every 250 ms, must stay flat:
// no higher in the second half of the run than in the first (V8's heap grows to its working size
// in the first seconds, 3-5 s on a loaded machine; a leak grows on).
// The suite runs it for 1.5 s (test/remote-load.test.ts).
import { parseArgs } from "node:util";
import * as grpc from "@grpc/grpc-js";
import { EchoClient, grpcEcho, rssBytes, startAirlockServe } from "./served.js";

/** What one load run saw. */
export interface LoadResult {
  readonly seconds: number;
  readonly callers: number;
  /** Calls sent, and calls answered with exactly their own bytes. */
  readonly sent: number;
  readonly correct: number;
  /** Calls that failed or came back wrong, with the first few reasons. */
  readonly failed: number;
  readonly failures: readonly string[];
  /** The server process's highest resident memory in the first half of the run, and in the second. */
  readonly rssFirstHalfMaxBytes: number;
  readonly rssSecondHalfMaxBytes: number;
  readonly rssSamples: number;
}

/** How much higher the server's memory may go in the second half than in the first and still count as flat. */
export const flatRss = { ratio: 1.1, slackBytes: 8 * 1024 * 1024 };

/** Runs shorter than this end inside V8's warm-up: their memory is shown, not judged. */
const judgeMemoryFromSeconds = 5;

/** Whether the server's memory stayed flat, or undefined for a run too short to say. */
export function memoryFlat(result: LoadResult): boolean | undefined {
  if (result.seconds < judgeMemoryFromSeconds) return undefined;
  return result.rssSecondHalfMaxBytes <= result.rssFirstHalfMaxBytes * flatRss.ratio + flatRss.slackBytes;
}

/** Whether a run passed: nothing lost or wrong, and memory flat where it is judged. */
export function loadPassed(result: LoadResult): boolean {
  return result.failed === 0 && result.correct === result.sent && memoryFlat(result) !== false;
}

/** Runs the load for `seconds` with `callers` callers against a fresh `airlock serve` with 2 workers. */
export async function runLoad({ seconds = 10, callers = 64, connections = 4 } = {}): Promise<LoadResult> {
  const server = await startAirlockServe(2);
  const clients = Array.from({ length: connections }, (_, i) => new EchoClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.channel_id": i } as grpc.ChannelOptions));
  const rss: number[] = [];
  const sampler = setInterval(() => {
    const bytes = rssBytes(server.child.pid!);
    if (bytes !== undefined) rss.push(bytes);
  }, 250);
  let sent = 0;
  let correct = 0;
  const failures: string[] = [];
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  const caller = async (id: number) => {
    const client = clients[id % clients.length]!;
    for (let seq = 0; performance.now() < end; seq++) {
      const data = Buffer.from(`caller ${id} call ${seq} ${"x".repeat(id % 32)}`);
      sent += 1;
      try {
        const reply = await grpcEcho(client, data, 10_000);
        if (Buffer.from(reply.data).equals(data)) correct += 1;
        else throw new Error(`caller ${id} call ${seq}: the reply held other bytes`);
      } catch (error) {
        failed += 1;
        if (failures.length < 5) failures.push((error as Error).message);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: callers }, (_, id) => caller(id)));
  } finally {
    clearInterval(sampler);
    for (const client of clients) client.close();
    await server.stop();
  }
  const half = Math.floor(rss.length / 2);
  return {
    seconds,
    callers,
    sent,
    correct,
    failed,
    failures,
    rssFirstHalfMaxBytes: Math.max(0, ...rss.slice(0, half)),
    rssSecondHalfMaxBytes: Math.max(0, ...rss.slice(half)),
    rssSamples: rss.length,
  };
}

/** The report's lines. */
export function describeLoad(result: LoadResult): string {
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return [
    `${result.callers} grpc-js callers for ${result.seconds} s against airlock serve (2 workers): ${result.sent} calls, ${(result.sent / result.seconds).toFixed(0)} calls/s`,
    `  answered correctly: ${result.correct}; failed or wrong: ${result.failed}${result.failures.length ? ` (${result.failures.join("; ")})` : ""}`,
    `  server RSS: at most ${mib(result.rssFirstHalfMaxBytes)} in the first half, ${mib(result.rssSecondHalfMaxBytes)} in the second (${result.rssSamples} samples; flat: at most ${flatRss.ratio}x + ${mib(flatRss.slackBytes)})`,
    `${loadPassed(result) ? "PASS" : "FAIL"}  no call lost, every reply right${memoryFlat(result) === undefined ? ` (server RSS not judged in a run under ${judgeMemoryFromSeconds} s)` : ", server RSS flat"}`,
  ].join("\n");
}

if (require.main === module) {
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "10" }, callers: { type: "string", default: "64" } } });
  runLoad({ seconds: Number(values.seconds), callers: Number(values.callers) }).then(
    (result) => {
      console.log(describeLoad(result));
      process.exitCode = loadPassed(result) ? 0 : 1;
    },
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}
