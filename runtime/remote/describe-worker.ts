/**
 * `node describe-worker.js <worker module>`: loads a worker module as a pool's worker would, but
 * with a host that only records what it serves, and prints the services' descriptors (a
 * google.protobuf.FileDescriptorSet, base64) and names as one JSON line. `airlock serve` runs it
 * in a process of its own: the module may load a library that crashes, and its top-level code
 * is not the server's to run.
 */
import { create, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { pathToFileURL } from "node:url";
import { installHost, type Route } from "../api/serve.js";

/** What the probe prints. */
export interface WorkerDescription {
  /** Fully qualified names of the services the module served, in the order it served them. */
  readonly services: readonly string[];
  /** The files that declare them and everything they import, dependencies first, as a base64 FileDescriptorSet. */
  readonly descriptorSet: string;
}

/** How long the module may take to call serve() at least once, as a pool's startTimeoutMs. */
const serveTimeoutMs = 10_000;

async function describe(workerPath: string): Promise<WorkerDescription> {
  const routes = new Map<string, Route>();
  let served!: () => void;
  const firstServe = new Promise<void>((resolve) => (served = resolve));
  installHost({ routes, served: () => served() });
  try {
    require(workerPath);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // An ES module that require() cannot load (top-level await, or a Node before 20.19).
    if (code !== "ERR_REQUIRE_ESM" && code !== "ERR_REQUIRE_ASYNC_MODULE") throw error;
    await import(pathToFileURL(workerPath).href);
  }
  const timer = setTimeout(() => fail(`${workerPath} did not call serve() within ${serveTimeoutMs} ms`), serveTimeoutMs);
  await firstServe;
  clearTimeout(timer);
  // Services served in the same tick as the first one count too.
  await new Promise((resolve) => setImmediate(resolve));
  const services: DescService[] = [];
  for (const { method } of routes.values()) {
    const service = method.desc?.parent;
    if (service === undefined) fail(`${workerPath} serves ${method.path} from a definition without a protobuf-es descriptor (make it with defineService)`);
    if (!services.includes(service)) services.push(service);
  }
  const files: DescFile[] = [];
  const add = (file: DescFile): void => {
    if (files.includes(file)) return;
    file.dependencies.forEach(add);
    files.push(file);
  };
  services.forEach((service) => add(service.file));
  const set = create(FileDescriptorSetSchema, { file: files.map((file) => file.proto) });
  return { services: services.map((service) => service.typeName), descriptorSet: Buffer.from(toBinary(FileDescriptorSetSchema, set)).toString("base64") };
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

describe(process.argv[2]!).then(
  // Exits at once: the module may have left timers or handles open, as a worker may.
  (description) => process.stdout.write(`${JSON.stringify(description)}\n`, () => process.exit(0)),
  (error: unknown) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error)),
);
