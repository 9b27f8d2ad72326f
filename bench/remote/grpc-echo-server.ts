// The remote bench's peer: grpc-js's own server answering BenchService.Echo in its process, with
// the same protobuf-es codec as the client. Prints "listening on PORT"; SIGTERM ends it.
import * as grpc from "@grpc/grpc-js";
import { create } from "@bufbuild/protobuf";
import { EchoReplySchema, type EchoRequest } from "../gen/airlock/bench/v1/bench_pb.js";
import { echoMethod } from "./served.js";

const server = new grpc.Server();
server.addService({ echo: echoMethod } as unknown as grpc.ServiceDefinition, {
  echo: (call: grpc.ServerUnaryCall<EchoRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, create(EchoReplySchema, { data: call.request.data })),
});
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) {
    process.stderr.write(`grpc-js server: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`listening on ${port}\n`);
});
process.once("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
