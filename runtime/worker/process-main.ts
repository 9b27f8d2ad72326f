/**
 * Entry point of every worker process: `node process-main.js <worker module>`, from the worker
 * snapshot or not (worker-snapshot.ts). It opens the control channel before the user's module
 * runs, so that a module that fails to load is reported to the parent as such, with its error,
 * instead of as an anonymous exit.
 */
// First: in a worker started from the snapshot, it makes the imports below the snapshot's.
import "./snapshot/snapshot-install.js";
import { Socket } from "node:net";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { encodeFrame, FrameType, jsonBody } from "../wire/frame.js";
import { nativeAddon } from "../os/native.js";
import { openWorkerConnection } from "./process-connection.js";
import { openWorkerBlobs } from "./worker-blobs.js";
import { workerEnv, workerExitCodes } from "../os/worker-env.js";

function main(): void {
  const parentPid = Number(process.env[workerEnv.parentPid]);
  // A worker stuck in native code never sees the channel close; the kernel's parent-death
  // signal ends it anyway when the parent dies, and with it every process it started.
  nativeAddon().killGroupOnParentDeath(parentPid);

  const socket = new Socket({ fd: Number(process.env[workerEnv.channelFd]), readable: true, writable: true });
  const [messages, bytes] = (process.env[workerEnv.streamWindow] ?? "").split(":").map(Number) as [number, number];
  const connection = openWorkerConnection(socket, Number(process.env[workerEnv.maxFrameBytes]), openWorkerBlobs(process.env), { messages, bytes });
  // The end of the channel: the pool asked us to leave (Leave came first), or this side closed
  // it (a library closing descriptors) and the parent only answered, which is no clean exit, or
  // the parent died. The parent's death closes the channel before the kernel sends the
  // parent-death signal, so a worker that left by itself here would leave the processes it
  // started behind: it takes its whole group down instead, as that signal would.
  const leave = () => {
    if (socket.writableEnded) {
      process.stderr.write(`airlock worker ${process.pid}: its control channel was closed from inside the worker\n`);
      process.exit(workerExitCodes.channelClosedInside);
    }
    if (connection.leaveAsked) process.exit(0);
    process.kill(-process.pid, "SIGKILL");
  };
  socket.on("end", leave);
  socket.on("error", leave);

  const modulePath = process.argv[2];
  if (!modulePath) {
    process.stderr.write("usage: process-main.js <worker module>\n");
    process.exit(64);
  }
  loadWorkerModule(path.resolve(modulePath)).catch((error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    // The report goes out with the end of the channel itself (not through the per-tick
    // writer), and the worker leaves once it is flushed.
    socket.end(encodeFrame(FrameType.StartFailed, 0, jsonBody({ message: err.message, stack: err.stack })), () => process.exit(1));
  });
}

/**
 * Loads the worker module with require(), which loads ES modules too (Node 20.19 and later)
 * and spares a CommonJS one the ES loader's start and a parse for its export names (~20 ms of
 * a worker start); import() takes what require() cannot: an ES module with top-level await, or
 * any ES module where Node lacks require(esm). Node refuses those before running any of the
 * module, so nothing runs twice, unless the module is CommonJS and itself require()s such an
 * ES module: it then fails the same way again, under import().
 */
async function loadWorkerModule(file: string): Promise<unknown> {
  try {
    return require(file);
  } catch (error) {
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code !== "ERR_REQUIRE_ASYNC_MODULE" && code !== "ERR_REQUIRE_ESM") throw error;
    return import(pathToFileURL(file).href);
  }
}

// Only as the entry point: snapshot-trace.ts loads this file to learn what it imports.
if (require.main === module) main();
