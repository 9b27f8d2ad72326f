// The gRPC peer's service: three unary methods and a server stream whose messages are raw bytes (no protobuf
// codec, no proto-loader), so gRPC's own cost is what is measured.
import type { ServiceDefinition } from "@grpc/grpc-js";

const raw = {
  requestStream: false,
  responseStream: false,
  requestSerialize: (bytes: Buffer) => bytes,
  requestDeserialize: (bytes: Buffer) => bytes,
  responseSerialize: (bytes: Buffer) => bytes,
  responseDeserialize: (bytes: Buffer) => bytes,
} as const;

export const benchService: ServiceDefinition = {
  echo: { path: "/bench.Bench/Echo", originalName: "Echo", ...raw },
  sink: { path: "/bench.Bench/Sink", originalName: "Sink", ...raw },
  fill: { path: "/bench.Bench/Fill", originalName: "Fill", ...raw },
  stream: { path: "/bench.Bench/Stream", originalName: "Stream", ...raw, responseStream: true },
};

/** No message size limits: the payload phase sends up to 64 MiB. */
export const unlimited = {
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
};
