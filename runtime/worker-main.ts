/**
 * Entry point of every worker process: `node worker-main.js <worker module>`. It opens the
 * control channel before the user's module runs, so that a module that fails to load is
 * reported to the parent as such, with its error, instead of as an anonymous exit.
 */
import { Socket } from "node:net";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { encodeFrame, FrameType, jsonBody } from "./frame.js";
import { nativeAddon } from "./native.js";
import { openWorkerConnection } from "./worker.js";
import { openWorkerBlobs } from "./worker-blobs.js";
import { workerEnv, workerExitCodes } from "./worker-env.js";

function main(): void {
  const parentPid = Number(process.env[workerEnv.parentPid]);
  // A worker stuck in native code never sees the channel close; the kernel's parent-death
  // signal ends it anyway when the parent dies, and with it every process it started.
  nativeAddon().killGroupOnParentDeath(parentPid);

  const socket = new Socket({ fd: Number(process.env[workerEnv.channelFd]), readable: true, writable: true });
  // The parent closing the channel means it is gone or done with us, unless this side closed
  // it first (a library closing descriptors) and the parent only answered: that is no clean exit.
  const leave = () => {
    if (!socket.writableEnded) process.exit(0);
    process.stderr.write(`airlock worker ${process.pid}: its control channel was closed from inside the worker\n`);
    process.exit(workerExitCodes.channelClosedInside);
  };
  socket.on("end", leave);
  socket.on("error", leave);
  openWorkerConnection(socket, Number(process.env[workerEnv.maxFrameBytes]), openWorkerBlobs(process.env));

  const modulePath = process.argv[2];
  if (!modulePath) {
    process.stderr.write("usage: worker-main.js <worker module>\n");
    process.exit(64);
  }
  import(pathToFileURL(path.resolve(modulePath)).href).catch((error: unknown) => {
    const err = error instanceof Error ? error : new Error(String(error));
    // The report goes out with the end of the channel itself (not through the per-tick
    // writer), and the worker leaves once it is flushed.
    socket.end(encodeFrame(FrameType.StartFailed, 0, jsonBody({ message: err.message, stack: err.stack })), () => process.exit(1));
  });
}

main();
