// The worker most tests run: each method fails, in a real way, when the request asks it to.
import { setTimeout as sleep } from "node:timers/promises";
import { AirlockError, Code, isCode, serve } from "airlock";
import { TestServiceDefinition } from "../gen/airlock/test/v1/test_airlock.js";
import { loadCrashy } from "../support/crashy.js";

const crashy = loadCrashy();

const waysToCrash = new Set(["segfault", "abort", "spin", "js-loop", "exit", "uncaught", "oom", "sigkill"]);

function crash(how: string): void {
  switch (how) {
    case "segfault":
      return crashy.segfault();
    case "abort":
      return crashy.abort();
    case "spin":
      return crashy.spin();
    case "js-loop":
      for (;;);
    case "exit":
      process.exit(3);
    case "uncaught":
      setImmediate(() => {
        throw new Error("uncaught in the worker");
      });
      return;
    case "oom": {
      const hog: number[][] = [];
      for (;;) hog.push(new Array(1e6).fill(1));
    }
    case "sigkill":
      process.kill(process.pid, "SIGKILL");
      return;
    default:
      throw new AirlockError(Code.InvalidArgument, `unknown way to crash: ${how}`);
  }
}

serve(TestServiceDefinition, {
  async echo(request) {
    if (request.delayMs > 0) await sleep(request.delayMs);
    return { text: request.text, data: request.data, pid: process.pid };
  },
  fail(request) {
    if (request.code === "plain") throw new Error(request.message);
    throw new AirlockError(isCode(request.code) ? request.code : Code.Unknown, request.message);
  },
  async crash(request) {
    process.stderr.write(`about to crash by ${request.how}\n`);
    if (request.afterMs > 0) await sleep(request.afterMs);
    crash(request.how);
    return {};
  },
  async sleep(request, context) {
    // Honours cancellation, as a well-behaved handler should.
    await sleep(request.ms, undefined, { signal: context.signal }).catch(() => undefined);
    return { pid: process.pid, cancelled: context.signal.aborted };
  },
  flaky(request, context) {
    if (context.attempt <= request.failures) {
      if (waysToCrash.has(request.how)) crash(request.how);
      throw new AirlockError(isCode(request.how) ? request.how : Code.Unknown, `attempt ${context.attempt} fails on purpose`);
    }
    return { attempt: context.attempt, pid: process.pid };
  },
});
