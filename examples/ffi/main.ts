// The ffi example: zlib and libc functions called through koffi in an isolated worker, checked
// against Node's own zlib; then strlen(NULL), which kills the worker and only the worker: the
// caller gets WORKER_CRASHED or POISON_PILL with the SIGSEGV. `npm run example:ffi`.
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { crc32, inflateSync } from "node:zlib";
import { AirlockError, Code, createPool } from "airlock";
import { createCLibServiceClient, type CLibServiceClient } from "./gen/clib/v1/clib_airlock.js";
import { forEachConcurrently } from "../support/concurrency.js";
import { describeError } from "../support/errors.js";
import { readFlags } from "../support/flags.js";

async function main(): Promise<void> {
  const flags = readFlags({ calls: 2000 }, { calls: 100 });
  console.log(`ffi: libz's crc32 and compress2, libc's strlen, through koffi in 2 worker processes; parent pid ${process.pid}`);
  const pool = await createPool({ worker: path.join(__dirname, "worker.js"), workers: 2, forwardStderr: false });
  const client = createCLibServiceClient(pool);

  const correct = await checkZlib(client, flags.calls);
  const lengths = [await client.strlen({ text: "hello, airlock" }), await client.strlen({ text: "" })].map((reply) => reply.length);
  console.log(`strlen("hello, airlock") = ${lengths[0]}, strlen("") = ${lengths[1]}`);

  const pidsBefore = pool.pids();
  const crashed = await failure(client.strlen({}, { retry: false }));
  console.log(`strlen(NULL), no retry       -> ${describeError(crashed)}: ${crashed.rawMessage}`);
  const poisoned = await failure(client.strlen({}));
  console.log(`strlen(NULL), proto's policy -> ${describeError(poisoned)}: ${poisoned.rawMessage}`);
  const facts = poisoned.crash!;
  console.log(`  last crash: worker ${facts.pid}, signal ${facts.signal}, attempt ${facts.attempt}, after ${facts.elapsedMs} ms`);

  const after = await client.crc32({ data: Buffer.from("still here") });
  console.log(`after the crashes: crc32("still here") = ${after.crc.toString(16)}; workers ${pidsBefore.join(", ")} -> ${pool.pids().join(", ")}`);
  const { crashes, restarts } = pool.stats();
  console.log(`worker crashes: ${crashes}, restarts: ${restarts}; this process is still here`);
  await pool.close();

  const segfaulted = (error: AirlockError, code: Code, attempts: number) =>
    error.code === code && error.details.crashes?.length === attempts && error.details.crashes.every((crash) => crash.signal === "SIGSEGV");
  const ok =
    correct &&
    lengths[0] === 14n &&
    lengths[1] === 0n &&
    segfaulted(crashed, Code.WorkerCrashed, 1) &&
    segfaulted(poisoned, Code.PoisonPill, 2) &&
    after.crc === crc32("still here");
  console.log(ok ? "result: every call answered correctly, every NULL answered with a typed SIGSEGV error" : "result: UNEXPECTED outcomes (see above)");
  process.exitCode = ok ? 0 : 1;
}

// Crc32 and Compress on random buffers of up to 64 KiB, `calls` of each, checked against node:zlib.
async function checkZlib(client: CLibServiceClient, calls: number): Promise<boolean> {
  let correct = 0;
  const started = performance.now();
  await forEachConcurrently(calls, 8, async (i) => {
    const data = randomBytes(1 + ((i * 7919) % 65536));
    // Half random, half repetitive: compress2 must shrink the second kind.
    data.fill(i & 0xff, data.length >> 1);
    const [{ crc }, { compressed }] = await Promise.all([client.crc32({ data }), client.compress({ data, level: i % 10 })]);
    if (crc === crc32(data) && inflateSync(compressed).equals(data)) correct += 1;
  });
  const seconds = (performance.now() - started) / 1000;
  const bad = await failure(client.compress({ data: Buffer.from("x"), level: 42 }));
  console.log(`${calls} crc32 + ${calls} compress2 calls: ${correct} correct (${Math.round((2 * calls) / seconds)} calls/s); level 42 -> ${bad.code}: ${bad.rawMessage}`);
  return correct === calls && bad.code === Code.InvalidArgument;
}

// The error a call that must fail fails with.
async function failure(call: Promise<unknown>): Promise<AirlockError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof AirlockError) return error;
    throw error;
  }
  throw new Error("the call succeeded, but it should have failed");
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
