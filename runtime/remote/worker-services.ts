import { createFileRegistry, fromBinary, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { execFile } from "node:child_process";
import * as path from "node:path";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";
import type { WorkerDescription } from "./describe-worker.js";

const probe = path.join(__dirname, "describe-worker.js");

/**
 * The services a worker module serves, as descriptors: the module is loaded once in a process
 * of its own (describe-worker.ts) with a host that records its serve() calls. So `airlock serve
 * --worker ./worker.js` needs no other word on what to serve. Rejects with WORKER_START_FAILED
 * when the module does not load or serves nothing.
 */
export function servicesOfWorker(workerPath: string, env: NodeJS.ProcessEnv = process.env): Promise<DescService[]> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [probe, path.resolve(workerPath)], { env, maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) return reject(new AirlockError(Code.WorkerStartFailed, `could not learn the services of ${workerPath}: ${stderr.trim() || error.message}`, { stderrTail: stderr.slice(-4096) }));
      const description = JSON.parse(stdout) as WorkerDescription;
      const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, Buffer.from(description.descriptorSet, "base64")));
      const services = description.services.map((name) => registry.getService(name)!);
      if (services.length === 0) return reject(new AirlockError(Code.WorkerStartFailed, `${workerPath} serves no unary method`));
      resolve(services);
    });
  });
}
