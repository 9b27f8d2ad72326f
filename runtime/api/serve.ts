import type { HandlerContext, MethodDefinition, ServiceDefinition } from "./definition.js";

/** A handler as serve() stores it: bound to the object the user passed. */
export type Handler = (request: unknown, context: HandlerContext) => unknown;

/** One method a worker answers, with its handler (undefined: the module left it out). */
export interface Route {
  readonly method: MethodDefinition;
  readonly handler: Handler | undefined;
}

/**
 * What serve() registers with: the control channel of a worker process, or the task runner of
 * a worker thread. Each is installed by its entry point before the user's module loads.
 */
export interface WorkerHost {
  /** Routes by method path. */
  readonly routes: Map<string, Route>;
  /** Called after each serve(), once its routes are in place. */
  served(): void;
}

// Kept on globalThis so that a worker module that loads its own copy of airlock still finds
// the host its entry point installed.
const hostKey = Symbol.for("airlock.worker.host");

/** Makes `host` the one serve() registers with in this process or thread; used by the entry points only. */
export function installHost(host: WorkerHost): void {
  (globalThis as Record<symbol, WorkerHost>)[hostKey] = host;
}

function installedHost(): WorkerHost {
  const found = (globalThis as Record<symbol, WorkerHost | undefined>)[hostKey];
  if (!found) {
    throw new Error("serve() must run inside a worker started by an airlock pool (createPool({ worker }))");
  }
  return found;
}

/**
 * Serves the service's methods in this worker; call it once per service the module offers.
 * Methods without a handler answer UNIMPLEMENTED; a key that is no method is an error.
 */
export function serve<THandlers>(service: ServiceDefinition<unknown, THandlers>, handlers: Partial<THandlers>): void {
  const host = installedHost();
  const table = handlers as Record<string, unknown>;
  for (const key of Object.keys(table)) {
    const method = service.methods[key];
    if (!method) throw new TypeError(`serve(${service.typeName}): "${key}" is not a method of the service`);
    if (typeof table[key] !== "function") throw new TypeError(`serve(${service.typeName}): handler "${key}" is not a function`);
  }
  for (const method of Object.values(service.methods)) {
    const handler = table[method.localName] as Handler | undefined;
    host.routes.set(method.path, { method, handler: handler?.bind(handlers) });
  }
  host.served();
}
