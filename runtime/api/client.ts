import type { CallOptions, Channel, MethodDefinition, ServiceDefinition } from "./definition.js";
import { Code } from "./code.js";
import { AirlockError } from "./errors.js";

/**
 * Returns an object with one function per method, each forwarding to the channel: a unary
 * method returns a promise of its reply, a server-streaming one an AsyncIterable of replies, a
 * client-streaming one takes an AsyncIterable of requests and returns a promise, a bidi one
 * takes an AsyncIterable and returns one (the shapes of connect-es).
 */
export function createClient<TClient>(service: ServiceDefinition<TClient, unknown>, channel: Channel): TClient {
  const client: Record<string, unknown> = {};
  for (const method of Object.values(service.methods)) {
    client[method.localName] = clientMethod(method, channel);
  }
  return client as TClient;
}

function clientMethod(method: MethodDefinition, channel: Channel): unknown {
  switch (method.kind) {
    case "unary":
      return (request: never, options?: CallOptions) => channel.call(method, request, options);
    case "server_streaming":
      return (request: never, options?: CallOptions) => channel.stream(method, one(request), options);
    case "client_streaming":
      return (requests: AsyncIterable<never>, options?: CallOptions) => onlyReply(method, channel.stream(method, requests, options));
    case "bidi_streaming":
      return (requests: AsyncIterable<never>, options?: CallOptions) => channel.stream(method, requests, options);
  }
}

async function* one<T>(request: T): AsyncIterable<T> {
  yield request;
}

// Read to the end, not left at the reply, which would cancel the call; the pools check that a
// client-streaming worker answers exactly one message.
async function onlyReply<T>(method: MethodDefinition, replies: AsyncIterable<T>): Promise<T> {
  let reply: { value: T } | undefined;
  for await (const value of replies) reply = { value };
  if (!reply) throw new AirlockError(Code.Protocol, `${method.path} ended without its reply`, { method: method.path });
  return reply.value;
}
