// protoc-gen-airlock and `airlock generate`: the generated code type-checks under strict
// TypeScript for both targets, options are resolved into the method table, and mistakes in
// the proto files come back as clear errors. Runs the real buf, plugins and tsc, offline.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { create, fromBinary } from "@bufbuild/protobuf";
import { CodeGeneratorRequestSchema, FileDescriptorSetSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { protocGenAirlock } from "../codegen/protoc-gen-airlock.js";
import { run, type Run } from "./support/run.js";

/** Tests run from dist/test: the repository is two levels up. */
const root = path.resolve(__dirname, "../..");
/** Inside the repository, so that generated code resolves "airlock" to this package. */
const work = path.join(root, ".tmp", `codegen-test-${process.pid}`);
const buf = require.resolve("@bufbuild/buf/bin/buf");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
const cli = path.join(root, "bin", "airlock.js");

function runNode(args: readonly string[], cwd = root): Promise<Run> {
  return run(process.execPath, args, { cwd });
}

function write(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

beforeAll(() => mkdirSync(work, { recursive: true }));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("airlock generate, then tsc --strict on the result", () => {
  // Uses the generated code the way a caller and a worker would; also checks what must NOT compile.
  const usage = `
import { create } from "@bufbuild/protobuf";
import type { Channel } from "airlock";
import {
  createDocumentServiceClient,
  DocumentServiceDefinition,
  type DocumentServiceClient,
  type DocumentServiceHandlers,
} from "./airlock/test/v1/features_airlock.js";
import type { Document } from "./airlock/test/v1/features_pb.js";
import { createTestServiceClient, type TestServiceHandlers } from "./airlock/test/v1/test_airlock.js";
import { FlakyReplySchema } from "./airlock/test/v1/test_pb.js";

declare const channel: Channel;
const documents: DocumentServiceClient = createDocumentServiceClient(channel);

export async function call(): Promise<string> {
  const document: Document = await documents.get({ id: "a" }, { timeoutMs: 100, retry: false });
  await documents.put({ id: "b", size: 3n, body: { case: "text", value: "hi" }, tags: ["x"] });
  await documents.put(document);
  for await (const watched of documents.watch({ id: "a" }, { timeoutMs: 100 })) void (watched satisfies Document);
  async function* drafts() {
    yield { id: "c" };
  }
  const uploaded: { count: number } = await documents.upload(drafts());
  for await (const synced of documents.sync(drafts())) void (synced satisfies Document);
  // @ts-expect-error a client-streaming method takes an AsyncIterable of requests
  void documents.upload({ id: "c" });
  // @ts-expect-error requests are typed
  await documents.get({ id: 1 });
  const echo = await createTestServiceClient(channel).echo({ text: "x", data: new Uint8Array(2) });
  const touch = DocumentServiceDefinition.methods["touch"];
  return \`\${echo.text} \${echo.pid} \${DocumentServiceDefinition.typeName} \${touch?.attemptTimeoutMs} \${uploaded.count}\`;
}

export const handlers: TestServiceHandlers = {
  echo: (request) => ({ text: request.text, data: request.data, pid: 1 }),
  fail: async () => ({}),
  crash: () => {
    throw new Error("down");
  },
  sleep: async (request, context) => ({ pid: request.ms + context.attempt, cancelled: context.signal.aborted }),
  leak: (request) => ({ rssBytes: BigInt(request.mebibytes) }),
  blobs: (request) => ({ data: request.data }),
  flaky: (_request, context) => create(FlakyReplySchema, { attempt: context.attempt }),
  spawn: (request) => ({ pid: request.orphan ? 1 : 2 }),
  large: (request) => ({ data: new Uint8Array(request.bytes) }),
};

// @ts-expect-error a worker must implement every unary method
export const incomplete: TestServiceHandlers = { echo: () => ({}) };

export const streaming: Pick<DocumentServiceHandlers, "watch" | "upload" | "sync"> = {
  async *watch(request) {
    yield { id: request.id };
  },
  async upload(requests) {
    let count = 0;
    for await (const document of requests) count += document.id.length;
    return { count };
  },
  sync: (requests) => requests,
};

// @ts-expect-error a server-streaming handler gives an iterable of replies, not one
export const notAStream: Pick<DocumentServiceHandlers, "watch"> = { watch: async (request) => ({ id: request.id }) };
`;

  const compilerOptions = {
    strict: true,
    noEmit: true,
    module: "node16",
    moduleResolution: "node16",
    target: "es2022",
    lib: ["es2022"],
    types: ["node"],
    noUnusedLocals: true,
    noUnusedParameters: true,
    noImplicitOverride: true,
    isolatedModules: true,
    // Check the generated .d.ts files too (and, alas, the libraries': they pass).
    skipLibCheck: false,
  };

  async function generateAndCheck(target: "ts" | "js+dts"): Promise<{ generate: Run; tsc?: Run; out: string }> {
    const out = path.join(work, target.replace("+", "-"));
    const generate = await runNode([cli, "generate", "--proto", "test/proto", "--out", path.relative(root, out), "--target", target]);
    if (generate.status !== 0) {
      return { generate, out };
    }
    write(path.join(out, "usage.ts"), usage);
    // For js+dts, the .js files are checked too (checkJs); their imports resolve to the .d.ts files.
    const include = target === "ts" ? ["**/*.ts"] : ["**/*.js", "usage.ts"];
    const options = target === "ts" ? compilerOptions : { ...compilerOptions, allowJs: true, checkJs: true };
    write(path.join(out, "tsconfig.json"), JSON.stringify({ compilerOptions: options, include }, null, 2));
    return { generate, tsc: await runNode([tsc, "-p", out]), out };
  }

  // Both pipelines run at once: each is mostly a separate tsc process.
  let results: Promise<Record<"ts" | "js+dts", Awaited<ReturnType<typeof generateAndCheck>>>>;
  beforeAll(() => {
    results = Promise.all([generateAndCheck("ts"), generateAndCheck("js+dts")]).then(([ts, js]) => ({ ts, "js+dts": js }));
  });

  test.each(["ts", "js+dts"] as const)("target=%s compiles", async (target) => {
    const { generate, tsc: check } = (await results)[target];
    expect(generate.stderr).toBe("");
    expect(generate.status).toBe(0);
    const diagnostics = `${check?.stdout ?? ""}${check?.stderr ?? ""}`;
    expect(diagnostics).toBe("");
    expect(check?.status).toBe(0);
  });

  test("target=js+dts gives CommonJS here that runs: the method table holds the resolved options", async () => {
    const { out } = (await results)["js+dts"];
    const generated = require(path.join(out, "airlock/test/v1/test_airlock.js")) as {
      TestServiceDefinition: { methods: Record<string, { kind: string; idempotent?: boolean; retry?: { maxAttempts: number } }> };
    };
    const { echo, crash, flaky } = generated.TestServiceDefinition.methods;
    expect(echo).toMatchObject({ kind: "unary", idempotent: true, retry: { maxAttempts: 3 } });
    expect(crash?.idempotent).toBeUndefined();
    expect(flaky).toMatchObject({ idempotent: true, retry: { maxAttempts: 4 }, attemptTimeoutMs: 1000 });
  });
});

describe("protoc-gen-airlock in process", () => {
  let files: FileDescriptorProto[];

  beforeAll(() => {
    files = buildImage("test/proto");
  });

  /** Compiles a proto folder of the repository (importing airlock's options) into descriptors with buf. */
  function buildImage(protoDir: string): FileDescriptorProto[] {
    const config = { version: "v2", modules: [{ path: protoDir }, { path: "proto" }] };
    const result = spawnSync(process.execPath, [buf, "build", protoDir, "--config", JSON.stringify(config), "-o", "-#format=binpb"], {
      cwd: root,
      maxBuffer: 64 << 20,
    });
    if (result.status !== 0) {
      throw new Error(`buf build failed: ${result.stderr.toString()}`);
    }
    return fromBinary(FileDescriptorSetSchema, result.stdout).file;
  }

  /** Runs the plugin; returns the generated files by name. */
  function generate(parameter: string, fileToGenerate = ["airlock/test/v1/features.proto", "airlock/test/v1/test.proto"], protoFile = files) {
    const request = create(CodeGeneratorRequestSchema, { fileToGenerate, parameter, protoFile });
    const response = protocGenAirlock.run(request);
    if (response.error) {
      throw new Error(response.error);
    }
    return Object.fromEntries(response.file.map((file) => [file.name, file.content]));
  }

  /** The text between `start` and the next line equal to `end`. */
  function block(text: string | undefined, start: string, end: string): string {
    const from = text?.indexOf(start) ?? -1;
    expect(from).toBeGreaterThanOrEqual(0);
    const to = text!.indexOf(`\n${end}\n`, from);
    return text!.slice(from, to + end.length + 1);
  }

  const ts = () => generate("target=ts,import_extension=js");

  test("writes one _airlock file per proto file with services, beside the _pb file", () => {
    expect(Object.keys(generate("target=ts,import_extension=js")).sort()).toEqual([
      "airlock/test/v1/features_airlock.ts",
      "airlock/test/v1/test_airlock.ts",
    ]);
    expect(Object.keys(generate("target=js+dts")).sort()).toEqual([
      "airlock/test/v1/features_airlock.d.ts",
      "airlock/test/v1/features_airlock.js",
      "airlock/test/v1/test_airlock.d.ts",
      "airlock/test/v1/test_airlock.js",
    ]);
  });

  test("a method's own retry policy and attempt timeout are resolved into its entry", () => {
    const definition = block(ts()["airlock/test/v1/test_airlock.ts"], "export const TestServiceDefinition", "  });");
    expect(definition).toContain(`    flaky: {
      idempotent: true,
      retry: {
        maxAttempts: 4,
        initialBackoffMs: 10,
        maxBackoffMs: 50,
        backoffMultiplier: 2,
        retryableCodes: ["WORKER_CRASHED", "UNAVAILABLE"],
      },
      attemptTimeoutMs: 1000,
    },`);
  });

  test("the service's default policy is stated once, with defaults filled in, and shared by methods without their own", () => {
    const code = ts()["airlock/test/v1/features_airlock.ts"];
    expect(code).toContain(`const documentServiceDefaultRetry: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 20,
  maxBackoffMs: 5000,
  backoffMultiplier: 1.5,
  retryableCodes: ["RESOURCE_EXHAUSTED", "ABORTED", "WORKER_CRASHED"],
};`);
    const definition = block(code, "export const DocumentServiceDefinition", "  });");
    expect(definition).toContain(`    get: {
      idempotent: true,
      retry: documentServiceDefaultRetry,
      attemptTimeoutMs: 5000,
    },
    put: {
      retry: documentServiceDefaultRetry,
      attemptTimeoutMs: 5000,
    },`);
    // The method's policy replaces the service's as a whole; its timeout replaces the default.
    expect(definition).toContain(`    touch: {
      idempotent: true,
      retry: {
        maxAttempts: 1,
        initialBackoffMs: 100,
        maxBackoffMs: 5000,
        backoffMultiplier: 2,
        retryableCodes: [],
      },
      attemptTimeoutMs: 250,
    },`);
  });

  test("a service without options gets a bare definition", () => {
    const code = ts()["airlock/test/v1/features_airlock.ts"];
    expect(code).toContain(`export const ClockServiceDefinition: ServiceDefinition<ClockServiceClient, ClockServiceHandlers> =
  defineService(ClockService);`);
    expect(code).toContain(`import type { Duration, DurationSchema, Empty, EmptySchema, Timestamp, TimestampSchema } from "@bufbuild/protobuf/wkt";`);
  });

  test("streaming methods are in the client and handler interfaces with the shapes of connect-es", () => {
    const code = ts()["airlock/test/v1/features_airlock.ts"];
    const client = block(code, "export interface DocumentServiceClient {", "}");
    expect(client).toContain("  watch(request: MessageInitShape<typeof GetRequestSchema>, options?: CallOptions): AsyncIterable<Document>;");
    expect(client).toContain("  upload(requests: AsyncIterable<MessageInitShape<typeof DocumentSchema>>, options?: CallOptions): Promise<UploadReply>;");
    expect(client).toContain("  sync(requests: AsyncIterable<MessageInitShape<typeof DocumentSchema>>, options?: CallOptions): AsyncIterable<Document>;");
    const handlers = block(code, "export interface DocumentServiceHandlers {", "}");
    expect(handlers).toContain("  watch(request: GetRequest, context: HandlerContext): HandlerStream<typeof DocumentSchema>;");
    expect(handlers).toContain("  upload(requests: AsyncIterable<Document>, context: HandlerContext): HandlerResult<typeof UploadReplySchema>;");
    expect(handlers).toContain("  sync(requests: AsyncIterable<Document>, context: HandlerContext): HandlerStream<typeof DocumentSchema>;");
    expect(block(code, "export const DocumentServiceDefinition", "  });")).toMatch(/^ {4}watch: \{/m);
    expect(code).toContain("export interface EmptyServiceClient {}");
  });

  test("comments from the proto become doc comments, with @deprecated where the proto says so", () => {
    const code = ts()["airlock/test/v1/features_airlock.ts"];
    expect(code).toContain(`/**
 * Stores documents.
 *
 * Paths look like "docs/*\\/drafts": the comment holds the end of a block comment.
 *
 * Client of airlock.test.v1.DocumentService; create one with \`createDocumentServiceClient\`.
 */
export interface DocumentServiceClient {
  /**
   * Reads a document.
   */
  get(request: MessageInitShape<typeof GetRequestSchema>, options?: CallOptions): Promise<Document>;`);
    expect(code).toContain(`  /**
   * Reads a document the old way.
   *
   * @deprecated
   */
  getLegacy(request: GetRequest, context: HandlerContext): HandlerResult<typeof DocumentSchema>;`);
    // A trailing comment counts too.
    expect(code).toContain(`  /**
   * Waits that long.
   */
  wait(request: MessageInitShape<typeof DurationSchema>, options?: CallOptions): Promise<Empty>;`);
    // A deprecated service deprecates everything generated for it.
    expect(code).toMatch(/@deprecated\n \*\/\nexport interface LegacyEchoServiceClient/);
    expect(code).toMatch(/@deprecated\n \*\/\nexport function createLegacyEchoServiceClient/);
  });

  test("target=js prints values only, and target=dts declares them", () => {
    const files = generate("target=js+dts,import_extension=js");
    const js = files["airlock/test/v1/test_airlock.js"];
    expect(js).toContain(`import { createClient, defineService } from "airlock";`);
    expect(js).toContain(`const testServiceDefaultRetry = {`);
    expect(js).toContain(`export const TestServiceDefinition = defineService(TestService, {`);
    expect(js).toContain(`export function createTestServiceClient(channel) {
  return createClient(TestServiceDefinition, channel);
}`);
    expect(js).not.toContain("interface");
    const dts = files["airlock/test/v1/test_airlock.d.ts"];
    expect(dts).toContain(`export declare const TestServiceDefinition: ServiceDefinition<TestServiceClient, TestServiceHandlers>;`);
    expect(dts).toContain(`export declare function createTestServiceClient(channel: Channel): TestServiceClient;`);
    expect(dts).toContain(`import type { CallOptions, Channel, HandlerContext, HandlerResult, ServiceDefinition } from "airlock";`);
    expect(dts).not.toContain("defineService(");
  });

  test("runtime_import moves the runtime import; a ./path is taken from the output folder", () => {
    const byName = generate("target=ts,import_extension=js,runtime_import=@acme/airlock");
    expect(byName["airlock/test/v1/test_airlock.ts"]).toContain(`import { createClient, defineService } from "@acme/airlock";`);
    const byPath = generate("target=js,import_extension=js,runtime_import=./runtime/index.js");
    const js = byPath["airlock/test/v1/test_airlock.js"];
    expect(js).toContain(`import { createClient, defineService } from "../../../runtime/index.js";`);
    expect(js).toContain(`@type {import("../../../runtime/index.js").RetryPolicy}`);
  });

  test("an unknown plugin option is refused", () => {
    expect(() => generate("target=ts,retries=3")).toThrow(/unknown option "retries"/);
  });

  test("mistakes in airlock's options are all reported, each with its place in the proto file", () => {
    const dir = path.join(work, "mistakes");
    write(
      path.join(dir, "proto", "bad", "v1", "bad.proto"),
      `syntax = "proto3";
package bad.v1;
import "airlock/v1/options.proto";
service BadService {
  option (airlock.v1.default_retry) = { max_attempts: 3 };
  rpc NoAttempts(Req) returns (Rep) {
    option (airlock.v1.retry) = { retryable_codes: [UNAVAILABLE] };
  }
  rpc Backwards(Req) returns (Rep) {
    option (airlock.v1.retry) = { max_attempts: 2 initial_backoff_ms: 200 max_backoff_ms: 100 backoff_multiplier: 0.5 retryable_codes: [OK] };
  }
}
message Req { string name = 1 [(airlock.v1.blob) = ALWAYS]; }
message Rep {}
`,
    );
    const image = buildImage(path.relative(root, path.join(dir, "proto")));
    expect(() => generate("target=ts", ["bad/v1/bad.proto"], image)).toThrow(
      [
        "bad/v1/bad.proto:5:10: (airlock.v1.default_retry): retryable_codes must list the codes to retry (or set max_attempts: 1 to turn retries off)",
        "bad/v1/bad.proto:7:12: (airlock.v1.retry): max_attempts must be set, and at least 1 (1 turns retries off)",
        "bad/v1/bad.proto:10:12: (airlock.v1.retry): max_backoff_ms (100) must not be below initial_backoff_ms (200)",
        "bad/v1/bad.proto:10:12: (airlock.v1.retry): backoff_multiplier (0.5) must be a number of at least 1",
        "bad/v1/bad.proto:10:12: (airlock.v1.retry): retryable_codes: OK is not an error and cannot be retried",
        "bad/v1/bad.proto:13:32: (airlock.v1.blob) is only allowed on singular bytes fields; bad.v1.Req.name is a string field",
      ].join("\n"),
    );
  });
});

describe("airlock generate reports failures", () => {
  test("a proto that does not compile: buf's error, with the path from here, and exit code 1", async () => {
    const dir = path.join(work, "broken");
    write(path.join(dir, "proto", "x", "v1", "x.proto"), `syntax = "proto3";\npackage x.v1;\nmessage X { strin name = 1; }\n`);
    const result = await runNode([cli, "generate"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("proto/x/v1/x.proto:3:13: cannot find `strin` in this scope");
    expect(result.stderr).toContain("airlock: buf generate failed");
  });

  test("a mistake in an option: the plugin's error, with the path from here, and exit code 1", async () => {
    const dir = path.join(work, "bad-option");
    write(
      path.join(dir, "protos", "y", "v1", "y.proto"),
      `syntax = "proto3";
package y.v1;
import "airlock/v1/options.proto";
service YService {
  rpc Y(YRequest) returns (YRequest) { option (airlock.v1.retry) = { max_attempts: 2 }; }
}
message YRequest {}
`,
    );
    const result = await runNode([cli, "generate", "--proto", "protos", "--out", "out"], dir);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("protos/y/v1/y.proto:5:47: (airlock.v1.retry): retryable_codes must list the codes to retry");
    expect(result.stderr).not.toContain("signal: killed");
  });

// Generating and type-checking twice takes a while on a loaded 2-core machine.
jest.setTimeout(120_000);

  test("wrong usage: the usage text and exit code 2; a dangerous --out is refused", async () => {
    const usage = await runNode([cli, "generate", "--target", "wasm"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain(`--target must be ts or js+dts`);
    expect(usage.stderr).toContain("Usage: airlock generate");
    const out = await runNode([cli, "generate", "--proto", "test/proto", "--out", "test"]);
    expect(out.status).toBe(1);
    expect(out.stderr).toContain("refusing to generate into test: it is emptied first and it holds the proto folder");
  });
});

test("codegen/gen holds what protoc-gen-es makes of options.proto today (bootstrap it after editing the proto)", async () => {
  const out = path.join(work, "bootstrap");
  const result = await runNode([buf, "generate", "proto", "--template", "codegen/buf.gen.bootstrap.yaml", "-o", out]);
  expect(result.stderr).toBe("");
  const fresh = readFileSync(path.join(out, "codegen/gen/airlock/v1/options_pb.ts"), "utf8");
  const committed = readFileSync(path.join(root, "codegen/gen/airlock/v1/options_pb.ts"), "utf8");
  expect(committed).toBe(fresh);
});
