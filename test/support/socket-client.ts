// Run as its own process (under another uid, in the socket tests): calls Echo on the pool server
// at the Unix socket in argv[2], once with airlock's remote channel and once with grpc-js, and
// prints how each ended as one JSON line.
import * as grpc from "@grpc/grpc-js";
import { AirlockError } from "airlock";
import { createRemoteChannel } from "airlock/remote";
import { createTestServiceClient } from "../gen/airlock/test/v1/test_airlock.js";
import { grpcCall, GrpcTestService } from "./remote.js";

async function main(socketPath: string): Promise<void> {
  const channel = createRemoteChannel({ baseUrl: `unix:${socketPath}` });
  let viaChannel: { text?: string; code?: string; message?: string };
  try {
    viaChannel = { text: (await createTestServiceClient(channel).echo({ text: `from uid ${process.getuid!()}` }, { timeoutMs: 10_000 })).text };
  } catch (error) {
    viaChannel = { code: (error as AirlockError).code, message: (error as AirlockError).rawMessage };
  } finally {
    channel.close();
  }
  const client = new GrpcTestService(`unix:${socketPath}`, grpc.credentials.createInsecure());
  const result = await grpcCall<{ text: string }>(client, "echo", { text: "grpc-js" }, { deadline: Date.now() + 10_000 });
  client.close();
  const viaGrpc = result.error ? { code: result.error.code, message: result.error.details } : { text: result.reply.text };
  process.stdout.write(`${JSON.stringify({ uid: process.getuid!(), channel: viaChannel, grpc: viaGrpc })}\n`);
}

void main(process.argv[2]!);
