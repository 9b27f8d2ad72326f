// The worker most tests run: each method fails, in a real way, when the request asks it to.
import { execFileSync, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { threadId } from "node:worker_threads";
import { isFieldSet } from "@bufbuild/protobuf";
import { AirlockError, Code, isCode, serve } from "airlock";
import { TestServiceDefinition } from "../gen/airlock/test/v1/test_airlock.js";
import { PresenceServiceDefinition } from "../gen/airlock/test/v1/presence_airlock.js";
import { InspectRequestSchema } from "../gen/airlock/test/v1/presence_pb.js";
import type { BlobsNested } from "../gen/airlock/test/v1/test_pb.js";
import { loadCrashy } from "../support/crashy.js";
import { crash, waysToCrash } from "../support/crash.js";

const crashy = loadCrashy();

serve(TestServiceDefinition, {
  async echo(request) {
    if (request.delayMs > 0) await sleep(request.delayMs);
    // A handler that returns what its schema does not allow: code where a string belongs.
    if (request.text === "return a function") return { text: (() => "code") as unknown as string, pid: process.pid, threadId };
    // The reply leaves at the end of this tick; the exit comes right after it.
    if (request.exitAfterReply) setImmediate(() => process.exit(5));
    return { text: request.text, data: request.data, pid: process.pid, threadId };
  },
  fail(request) {
    if (request.code === "plain") throw new Error(request.message);
    throw new AirlockError(isCode(request.code) ? request.code : Code.Unknown, request.message);
  },
  async crash(request) {
    process.stderr.write(`about to crash by ${request.how}\n`);
    if (request.afterMs > 0) await sleep(request.afterMs);
    crash(request.how);
    // Some ways of going down take effect a moment later; never reply in between.
    return new Promise<never>(() => undefined);
  },
  async sleep(request, context) {
    // Honours cancellation, as a well-behaved handler should.
    await sleep(request.ms, undefined, { signal: context.signal }).catch(() => undefined);
    return { pid: process.pid, threadId, cancelled: context.signal.aborted };
  },
  async blobs(request, context) {
    if (request.crashFirstAttempt && context.attempt === 1) crashy.segfault();
    if (request.writeIntoData) request.data[0] = 1;
    if (request.delayMs > 0) await sleep(request.delayMs);
    const seen: { where: string; bytes: Uint8Array }[] = [{ where: "data", bytes: request.data }];
    request.parts.forEach((bytes, i) => seen.push({ where: `parts[${i}]`, bytes }));
    const visit = (nested: BlobsNested | undefined, where: string): void => {
      if (!nested) return;
      seen.push({ where: `${where}.inner`, bytes: nested.inner });
      nested.children.forEach((child, i) => visit(child, `${where}.children[${i}]`));
    };
    visit(request.nested, "nested");
    if (request.choice.case === "chosen") seen.push({ where: "chosen", bytes: request.choice.value });
    if (request.alwaysBlob.length > 0) seen.push({ where: "alwaysBlob", bytes: request.alwaysBlob });
    if (request.neverBlob.length > 0) seen.push({ where: "neverBlob", bytes: request.neverBlob });
    const data = new Uint8Array(request.replyBytes);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 255;
    return {
      seen: seen.map(({ where, bytes }) => ({
        where,
        length: bytes.length,
        checksum: bytes.reduce((sum, byte) => (sum + byte) >>> 0, 0),
        bufferBytes: BigInt(bytes.buffer.byteLength),
        byteOffset: BigInt(bytes.byteOffset),
      })),
      data,
    };
  },
  leak(request) {
    crashy.leak(request.mebibytes * 1024 * 1024);
    return { rssBytes: BigInt(process.memoryUsage.rss()), pid: process.pid };
  },
  flaky(request, context) {
    if (context.attempt <= request.failures) {
      if (waysToCrash.has(request.how)) crash(request.how);
      throw new AirlockError(isCode(request.how) ? request.how : Code.Unknown, `attempt ${context.attempt} fails on purpose`);
    }
    return { attempt: context.attempt, pid: process.pid, threadId };
  },
  spawn(request) {
    if (request.orphan) {
      const pid = Number(execFileSync("sh", ["-c", "sleep 3600 >/dev/null 2>&1 & echo $!"], { encoding: "utf8" }).trim());
      return { pid, workerPid: process.pid };
    }
    const child = spawn("sleep", ["3600"], { stdio: "ignore" });
    return { pid: child.pid!, workerPid: process.pid };
  },
  large(request) {
    return { data: new Uint8Array(request.bytes) };
  },
});

serve(PresenceServiceDefinition, {
  inspect(request) {
    return {
      greeting: request.greeting,
      count: request.count,
      greetingSet: isFieldSet(request, InspectRequestSchema.field.greeting),
      payloadLength: request.payload.length,
      badgeSet: isFieldSet(request, InspectRequestSchema.field.badge),
    };
  },
});
