import type { DescService } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { Channel, ServiceDefinition } from "./api/definition.js";
import type { AirlockError } from "./api/errors.js";
import type { AirlockTransportOptions } from "./remote/transport.js";
import type { PoolServer, PoolServerOptions } from "./remote/pool-server.js";
import type { RemoteChannel, RemoteChannelOptions } from "./remote/remote-channel.js";

// The remote layer is loaded when it is first used, not with the package: every worker imports
// "airlock" for serve(), and connect, connect-node and descriptor.proto's schema would cost each
// worker start (and its snapshot) for nothing.
type TransportModule = typeof import("./remote/transport.js");
type ServerModule = typeof import("./remote/pool-server.js");
type ChannelModule = typeof import("./remote/remote-channel.js");
type DefinitionModule = typeof import("./remote/method-definition.js");
type ErrorMappingModule = typeof import("./remote/error-mapping.js");

/** A connect-es Transport over a pool: connect's `createClient(Service, createAirlockTransport(pool))` with protoc-gen-es's descriptors alone. */
export function createAirlockTransport(pool: Channel, options?: AirlockTransportOptions): Transport {
  return (require("./remote/transport.js") as TransportModule).createAirlockTransport(pool, options);
}

/** Serves a pool over HTTP/2 (gRPC, gRPC-Web, Connect) on TCP or a Unix socket, with a health service; resolves once it listens. */
export function createPoolServer(options: PoolServerOptions): Promise<PoolServer> {
  return (require("./remote/pool-server.js") as ServerModule).createPoolServer(options);
}

/** A Channel to a pool served by `airlock serve` or createPoolServer, for the generated airlock clients; raises the AirlockErrors a local pool would. */
export function createRemoteChannel(options: RemoteChannelOptions): RemoteChannel {
  return (require("./remote/remote-channel.js") as ChannelModule).createRemoteChannel(options);
}

/** airlock's definition of a service from its protoc-gen-es descriptor alone, airlock's options read from the descriptor (once per service). */
export function serviceDefinitionOf(service: DescService): ServiceDefinition {
  return (require("./remote/method-definition.js") as DefinitionModule).serviceDefinitionOf(service);
}

/** The AirlockError a local caller would get for a ConnectError from a remote pool or the Connect transport (the airlock code and facts from its ErrorDetail). */
export function airlockErrorFrom(reason: unknown): AirlockError {
  return (require("./remote/error-mapping.js") as ErrorMappingModule).fromConnectError(reason);
}
