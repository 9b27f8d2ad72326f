// The gRPC peer's worker: a grpc-js server on the Unix socket named by argv[2]. Prints "ready"
// on stdout when bound; leaves when its stdin closes (the parent closed it or died).
import * as grpc from "@grpc/grpc-js";
import { u32 } from "./raw-frames.js";
import { benchService, unlimited } from "./grpc-service.js";
import { pattern } from "./work.js";

type Unary = grpc.handleUnaryCall<Buffer, Buffer>;

const echo: Unary = (call, callback) => callback(null, call.request);
const sink: Unary = (call, callback) => callback(null, u32(call.request.length));
const fill: Unary = (call, callback) => callback(null, pattern(call.request.readUInt32LE(0)));

// `count` replies of `size` bytes, written as fast as the call's flow control takes them.
const stream: grpc.handleServerStreamingCall<Buffer, Buffer> = async (call) => {
  const body = pattern(call.request.readUInt32LE(4));
  for (let sent = 0, count = call.request.readUInt32LE(0); sent < count; sent++) {
    if (!call.write(body)) await new Promise((resolve) => call.once("drain", resolve));
  }
  call.end();
};

const server = new grpc.Server(unlimited);
server.addService(benchService, { echo, sink, fill, stream });
server.bindAsync(`unix:${process.argv[2]}`, grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    process.stderr.write(`grpc worker: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write("ready\n");
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
