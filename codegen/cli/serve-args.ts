import { resolve } from "node:path";
import { parseFlags, UsageError } from "./usage-error.js";

/** What `airlock serve` was asked to do, with paths made absolute. */
export interface ServeOptions {
  /** The worker module; the services it serves are what is served. */
  readonly worker: string;
  /** TCP address, or else `socket`. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Unix socket path. */
  readonly socket?: string;
  readonly workers?: number;
  /** Calls one worker runs at once (the pool's `concurrency`). */
  readonly concurrency?: number;
  readonly isolation: "process" | "thread";
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  readonly allowUids: readonly number[];
  readonly allowGids: readonly number[];
  readonly maxRequestBytes?: number;
  /** How long a SIGTERM or SIGINT lets calls in flight finish. */
  readonly drainTimeoutMs: number;
}

export const serveUsage = `Usage: airlock serve --worker FILE (--listen HOST:PORT | --socket PATH) [options]

Runs a pool of the worker module and serves it over HTTP/2 with connect-node: gRPC, gRPC-Web
and the Connect protocol (HTTP/1.1 too, for Connect and gRPC-Web), with grpc.health.v1.Health
following the pool's circuit. The services are those the module serves: it is loaded once, in
a process of its own, to learn them. SIGTERM or SIGINT drains: health turns NOT_SERVING, calls
in flight finish (up to --drain-timeout-ms), then the pool closes.

Options:
  --worker FILE             the worker module, which calls serve() (required)
  --listen HOST:PORT        listen on TCP (port 0: any free port, printed when listening)
  --socket PATH             listen on a Unix socket; callers are authorized by peer credentials
  --workers N               workers serving calls (default: the number of CPUs)
  --concurrency N           calls one worker runs at once (default 1, the safe choice for
                            native code; more for code that waits, such as I/O)
  --isolation I             process or thread (default: process)
  --tls-cert FILE           PEM certificate: serve TCP over TLS (with --tls-key)
  --tls-key FILE            PEM private key
  --allow-uid UID           on a socket: a uid that may call (repeat, or a comma list); with
                            neither --allow-uid nor --allow-gid, only the server's own uid may
  --allow-gid GID           on a socket: a gid that may call (repeat, or a comma list)
  --max-request-bytes N     largest request message (default 4194304); larger: RESOURCE_EXHAUSTED
  --drain-timeout-ms MS     time calls in flight get on SIGTERM/SIGINT (default 5000)
  -h, --help                show this help`;

/** Parses the arguments that follow `airlock serve`; paths are resolved against `cwd`. */
export function parseServeArgs(args: readonly string[], cwd: string): ServeOptions | "help" {
  const values = parseFlags(args, {
    worker: { type: "string" },
    listen: { type: "string" },
    socket: { type: "string" },
    workers: { type: "string" },
    concurrency: { type: "string" },
    isolation: { type: "string", default: "process" },
    "tls-cert": { type: "string" },
    "tls-key": { type: "string" },
    "allow-uid": { type: "string", multiple: true, default: [] as string[] },
    "allow-gid": { type: "string", multiple: true, default: [] as string[] },
    "max-request-bytes": { type: "string" },
    "drain-timeout-ms": { type: "string", default: "5000" },
    help: { type: "boolean", short: "h", default: false },
  });
  if (values.help) return "help";
  if (values.worker === undefined) throw new UsageError("--worker FILE is required");
  if ((values.listen === undefined) === (values.socket === undefined)) throw new UsageError("give one of --listen HOST:PORT or --socket PATH");
  const isolation = values.isolation;
  if (isolation !== "process" && isolation !== "thread") throw new UsageError(`--isolation must be process or thread, not "${isolation}"`);
  if ((values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (values["tls-cert"] !== undefined && values.socket !== undefined) throw new UsageError("TLS is for --listen; callers on a --socket are authorized by peer credentials");
  const onSocketOnly = values["allow-uid"].length + values["allow-gid"].length > 0 && values.socket === undefined;
  if (onSocketOnly) throw new UsageError("--allow-uid and --allow-gid are for --socket");
  return {
    worker: resolve(cwd, values.worker),
    ...(values.listen !== undefined ? { listen: hostPort(values.listen) } : {}),
    ...(values.socket !== undefined ? { socket: resolve(cwd, values.socket) } : {}),
    ...(values.workers !== undefined ? { workers: integer("--workers", values.workers, 1) } : {}),
    ...(values.concurrency !== undefined ? { concurrency: integer("--concurrency", values.concurrency, 1) } : {}),
    isolation,
    ...(values["tls-cert"] !== undefined ? { tls: { certFile: resolve(cwd, values["tls-cert"]), keyFile: resolve(cwd, values["tls-key"]!) } } : {}),
    allowUids: ids("--allow-uid", values["allow-uid"]),
    allowGids: ids("--allow-gid", values["allow-gid"]),
    ...(values["max-request-bytes"] !== undefined ? { maxRequestBytes: integer("--max-request-bytes", values["max-request-bytes"], 1) } : {}),
    drainTimeoutMs: integer("--drain-timeout-ms", values["drain-timeout-ms"], 0),
  };
}

function hostPort(text: string): { host: string; port: number } {
  // "[::1]:8080" for IPv6, "127.0.0.1:8080" otherwise.
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!match) throw new UsageError(`--listen must be HOST:PORT (or [IPv6]:PORT), not "${text}"`);
  return { host: match[1] ?? match[2]!, port: integer("--listen's port", match[3]!, 0, 65535) };
}

function ids(flag: string, values: readonly string[]): number[] {
  return values.flatMap((value) => value.split(",")).map((id) => integer(flag, id.trim(), 0));
}

function integer(flag: string, text: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max) throw new UsageError(`${flag} must be a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : " up"}, not "${text}"`);
  return value;
}
