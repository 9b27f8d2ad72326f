// Clients this project did not write, for the pool server's tests: @grpc/grpc-js with the
// protos loaded by @grpc/proto-loader (protobufjs, not protobuf-es), curl with the Connect
// protocol's JSON, and node:http2 for the frames no well-behaved client sends.
import { execFile } from "node:child_process";
import * as http2 from "node:http2";
import * as path from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ErrorDetailSchema, type ErrorDetail } from "airlock/remote";
import { repoRoot } from "./crashy.js";

/** ../shared beside the repository, where the public protos are (read at run time, never copied). */
export const sharedDir = path.resolve(repoRoot, "..", "shared");

type GrpcConstructor = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => grpc.Client;

function load(file: string, includeDirs: string[], name: (root: grpc.GrpcObject) => unknown): GrpcConstructor {
  const definition = protoLoader.loadSync(file, { includeDirs, longs: String, enums: String, defaults: true });
  return name(grpc.loadPackageDefinition(definition)) as GrpcConstructor;
}

/** grpc-js's constructor for airlock.test.v1.TestService, from test/proto. */
export const GrpcTestService = load("airlock/test/v1/test.proto", [path.join(repoRoot, "test/proto"), path.join(repoRoot, "proto")], (root) => (root as { airlock: { test: { v1: { TestService: unknown } } } }).airlock.test.v1.TestService);

/** grpc-js's constructor for airlock.test.v1.StreamService, from test/proto. */
export const GrpcStreamService = load("airlock/test/v1/stream.proto", [path.join(repoRoot, "test/proto"), path.join(repoRoot, "proto")], (root) => (root as { airlock: { test: { v1: { StreamService: unknown } } } }).airlock.test.v1.StreamService);

/** grpc-js's constructor for grpc.health.v1.Health, from the public proto in ../shared. */
export const GrpcHealth = load("grpc/health/v1/health.proto", [path.join(sharedDir, "public-protos")], (root) => (root as { grpc: { health: { v1: { Health: unknown } } } }).grpc.health.v1.Health);

/** What a grpc-js unary call ended with. */
export type GrpcResult<T> = { readonly reply: T; readonly error?: undefined } | { readonly reply?: undefined; readonly error: grpc.ServiceError };

/** Calls `method` on a grpc-js client; settles with the reply or the error, never rejects. */
export function grpcCall<T = Record<string, unknown>>(client: grpc.Client, method: string, request: object, options: grpc.CallOptions = {}, onCall?: (call: grpc.ClientUnaryCall) => void): Promise<GrpcResult<T>> {
  return new Promise((resolve) => {
    const call = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>)[method]!.call(client, request, new grpc.Metadata(), options, (error: grpc.ServiceError | null, reply: T) => resolve(error ? { error } : { reply }));
    onCall?.(call);
  });
}

/** The airlock.v1.ErrorDetail in a gRPC error's grpc-status-details-bin (a google.rpc.Status), if it has one. */
export function errorDetailOf(error: grpc.ServiceError): ErrorDetail | undefined {
  const [status] = error.metadata.get("grpc-status-details-bin") as Buffer[];
  if (!status) return undefined;
  // google.rpc.Status: 3 = repeated google.protobuf.Any details; Any: 1 = type_url, 2 = value.
  const reader = new BinaryReader(status);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 3) {
      reader.skip(wireType);
      continue;
    }
    const any = new BinaryReader(reader.bytes());
    let typeUrl = "";
    let value: Uint8Array = new Uint8Array();
    while (any.pos < any.len) {
      const [anyField, anyWire] = any.tag();
      if (anyField === 1) typeUrl = any.string();
      else if (anyField === 2) value = any.bytes();
      else any.skip(anyWire);
    }
    if (typeUrl.endsWith("/airlock.v1.ErrorDetail")) return fromBinary(ErrorDetailSchema, value);
  }
  return undefined;
}

/** What curl printed: the HTTP status and the body. */
export interface CurlResult {
  readonly status: number;
  readonly body: string;
}

/** Runs curl with `args` and the URL last; the status comes from `-w`. */
export function curl(args: readonly string[], url: string): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    execFile("curl", ["-s", "-S", "-o", "-", "-w", "\n%{http_code}", ...args, url], { timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(" ")} ${url}: ${error.message}\n${stderr}`));
      const cut = stdout.lastIndexOf("\n");
      resolve({ status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) });
    });
  });
}

/** A unary call with the Connect protocol's JSON, as the issue writes it: `curl -H 'content-type: application/json' -d '{...}' URL/pkg.Svc/Method`. */
export function curlJson(baseUrl: string, path: string, body: object, extra: readonly string[] = []): Promise<CurlResult> {
  return curl(["-H", "content-type: application/json", "-d", JSON.stringify(body), ...extra], `${baseUrl}${path}`);
}

/** A gRPC request body: the 5-byte envelope (flags, big-endian length) and the message bytes. */
export function grpcEnvelope(message: Uint8Array, flags = 0, length = message.length): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(length, 1);
  return Buffer.concat([header, message]);
}

/** What a raw HTTP/2 request ended with: its response headers (status, grpc-status when trailers-only), trailers and body. */
export interface RawResult {
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** Sends one gRPC request with node:http2 alone, writing `chunks` `delayMs` apart: a client that can be slow, or wrong. */
export function rawGrpc(url: string, path: string, chunks: readonly Buffer[], delayMs = 0): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const body: Buffer[] = [];
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    stream.on("error", reject);
    stream.on("close", () => {
      session.close();
      resolve({ headers, trailers, body: Buffer.concat(body) });
    });
    void (async () => {
      for (const chunk of chunks) {
        if (delayMs > 0) await new Promise((wake) => setTimeout(wake, delayMs));
        stream.write(chunk);
      }
      stream.end();
    })();
  });
}
