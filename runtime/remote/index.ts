// "airlock/remote": a pool past its own process. A subpath of its own, not part of "airlock": its
// types are connect's, whose declarations need the DOM lib (or skipLibCheck), and every worker
// imports "airlock" for serve(), which need not load connect, connect-node or descriptor.proto.
export { createAirlockTransport, type AirlockTransportOptions } from "./transport.js";
export { createPoolServer, peerCredentialsKey, type PoolServer, type PoolServerOptions, type PoolServerTls } from "./pool-server.js";
export { createRemoteChannel, type RemoteChannel, type RemoteChannelOptions } from "./remote-channel.js";
export { fromConnectError as airlockErrorFrom, toConnectError } from "./error-mapping.js";
export { serviceDefinitionOf, methodDefinitionOf } from "./method-definition.js";
export { HealthService } from "./health.js";
export type { PeerCredentials } from "./peer-credentials.js";
export { ErrorDetailSchema, CrashFactsSchema, type ErrorDetail, type CrashFacts as CrashFactsDetail } from "../../codegen/gen/airlock/v1/error_detail_pb.js";
