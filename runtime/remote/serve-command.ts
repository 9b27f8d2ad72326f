import { readFileSync } from "node:fs";
import type { ServeOptions } from "../../codegen/cli/serve-args.js";
import { createPool } from "../create-pool.js";
import { createPoolServer } from "./pool-server.js";
import { servicesOfWorker } from "./worker-services.js";

/**
 * `airlock serve`: learns the worker module's services, starts its pool, serves it, and on
 * SIGTERM or SIGINT drains the server and closes the pool. Resolves with the exit code.
 */
export async function serveCommand(options: ServeOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const services = await servicesOfWorker(options.worker);
  const pool = await createPool({
    worker: options.worker,
    isolation: options.isolation,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
  });
  let server;
  try {
    server = await createPoolServer({
      pool,
      services,
      ...(options.listen ? { listen: options.listen } : { socket: options.socket! }),
      ...(options.tls ? { tls: { cert: readFileSync(options.tls.certFile), key: readFileSync(options.tls.keyFile) } } : {}),
      allowUids: options.allowUids,
      allowGids: options.allowGids,
      ...(options.maxRequestBytes !== undefined ? { maxRequestBytes: options.maxRequestBytes } : {}),
    });
  } catch (error) {
    await pool.close();
    throw error;
  }
  const workers = options.isolation === "thread" ? "worker threads" : `worker processes (${pool.pids().join(", ")})`;
  out.write(`airlock serve: listening on ${server.url}, serving ${services.map((service) => service.typeName).join(", ")} from ${options.worker} in ${workers}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  out.write(`airlock serve: ${signal}: draining (up to ${options.drainTimeoutMs} ms)\n`);
  await server.close({ timeoutMs: options.drainTimeoutMs });
  await pool.close();
  out.write("airlock serve: closed\n");
  return 0;
}
