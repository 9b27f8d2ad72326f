// The ways a test worker can go down on purpose, each real: native faults, exits, loops, OOM.
import { AirlockError, Code } from "airlock";
import { channelSocket } from "./channel.js";
import { loadCrashy } from "./crashy.js";

const crashy = loadCrashy();

export const waysToCrash = new Set(["segfault", "abort", "spin", "js-loop", "exit", "uncaught", "oom", "sigkill", "close-channel", "sigstop"]);

/** Takes this worker down in the way named (see CrashRequest.how in test.proto). */
export function crash(how: string): void {
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
    case "sigstop":
      process.kill(process.pid, "SIGSTOP");
      return;
    case "close-channel":
      // Half-closes the control channel, as a confused library closing fds might, and lives on.
      channelSocket().end();
      setInterval(() => undefined, 1000);
      return;
    default:
      throw new AirlockError(Code.InvalidArgument, `unknown way to crash: ${how}`);
  }
}
