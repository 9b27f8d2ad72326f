import type { CallOptions, Channel, ServiceDefinition } from "./definition.js";

/** Returns an object with one async function per unary method, each forwarding to the channel. */
export function createClient<TClient>(service: ServiceDefinition<TClient, unknown>, channel: Channel): TClient {
  const client: Record<string, unknown> = {};
  for (const method of Object.values(service.methods)) {
    if (method.kind !== "unary") continue;
    client[method.localName] = (request: never, options?: CallOptions) => channel.call(method, request, options);
  }
  return client as TClient;
}
