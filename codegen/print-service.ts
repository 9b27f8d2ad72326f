import type { GeneratedFile, Printable, Target } from "@bufbuild/protoplugin";
import { docText } from "./doc-comments.js";
import type { ResolvedRetryPolicy } from "../runtime/remote/retry-policy-option.js";
import type { MethodModel, ServiceModel } from "./service-model.js";

/**
 * Prints the code for one service. The three targets share every piece: `ts` prints all of
 * it, `js` the values without types, `dts` the types and the declarations of the values.
 */
export function printService(f: GeneratedFile, service: ServiceModel, target: Target, runtime: RuntimeImport): void {
  const rt = runtimeSymbols(f, runtime);
  if (target !== "js") {
    printClientInterface(f, service, rt);
    printHandlersInterface(f, service, rt);
  }
  if (target !== "dts") {
    printSharedRetry(f, service, target, rt);
  }
  printDefinition(f, service, target, rt);
  printClientFactory(f, service, target, rt);
}

/** Where the generated code finds airlock's runtime. */
export interface RuntimeImport {
  /** For import statements: a package name, or a path relative to the output folder ("./..."). */
  readonly module: string;
  /** The same module as seen from the generated file, for `import("...")` types in JSDoc. */
  readonly fromFile: string;
}

type RuntimeSymbols = ReturnType<typeof runtimeSymbols>;

/** Symbols of airlock's runtime; only those printed end up imported. */
function runtimeSymbols(f: GeneratedFile, runtime: RuntimeImport) {
  const from = runtime.module;
  return {
    /** A runtime type in JSDoc, for JavaScript checked by TypeScript (`checkJs`). */
    jsDocType: (name: string) => `import(${JSON.stringify(runtime.fromFile)}).${name}`,
    createClient: f.import("createClient", from),
    defineService: f.import("defineService", from),
    CallOptions: f.import("CallOptions", from, true),
    Channel: f.import("Channel", from, true),
    HandlerContext: f.import("HandlerContext", from, true),
    HandlerResult: f.import("HandlerResult", from, true),
    HandlerStream: f.import("HandlerStream", from, true),
    RetryPolicy: f.import("RetryPolicy", from, true),
    ServiceDefinition: f.import("ServiceDefinition", from, true),
    MessageInitShape: f.import("MessageInitShape", "@bufbuild/protobuf", true),
  };
}

// The shapes of connect-es: requests that stream come as an AsyncIterable, and replies that
// stream go as one; a single reply is a promise.
function printClientInterface(f: GeneratedFile, s: ServiceModel, rt: RuntimeSymbols): void {
  const doc = docText([s.comments, `Client of ${s.desc.typeName}; create one with \`${s.factoryName}\`.`], s.deprecated);
  printInterface(f, doc, s.clientName, s, (m) => {
    const init = [rt.MessageInitShape, "<typeof ", f.importSchema(m.desc.input, true), ">"];
    const reply = f.importShape(m.desc.output);
    const { requestsStream, repliesStream } = streamsOf(m);
    const request = requestsStream ? ["requests: AsyncIterable<", init, ">"] : ["request: ", init];
    return [m.localName, "(", request, ", options?: ", rt.CallOptions, "): ", repliesStream ? "AsyncIterable" : "Promise", "<", reply, ">;"];
  });
}

function printHandlersInterface(f: GeneratedFile, s: ServiceModel, rt: RuntimeSymbols): void {
  const doc = docText([`The methods of ${s.desc.typeName} as a worker implements them.`], s.deprecated);
  printInterface(f, doc, s.handlersName, s, (m) => {
    const shape = f.importShape(m.desc.input);
    const { requestsStream, repliesStream } = streamsOf(m);
    const request = requestsStream ? ["requests: AsyncIterable<", shape, ">"] : ["request: ", shape];
    const reply = [repliesStream ? rt.HandlerStream : rt.HandlerResult, "<typeof ", f.importSchema(m.desc.output, true), ">"];
    return [m.localName, "(", request, ", context: ", rt.HandlerContext, "): ", reply, ";"];
  });
}

function streamsOf(m: MethodModel): { requestsStream: boolean; repliesStream: boolean } {
  const kind = m.desc.methodKind;
  return { requestsStream: kind === "client_streaming" || kind === "bidi_streaming", repliesStream: kind === "server_streaming" || kind === "bidi_streaming" };
}

/** Prints an interface with one member per method. */
function printInterface(
  f: GeneratedFile,
  doc: string,
  name: string,
  s: ServiceModel,
  member: (m: MethodModel) => Printable[],
): void {
  printDoc(f, doc);
  if (s.methods.length === 0) {
    f.print(f.export("interface", name), " {}");
    f.print();
    return;
  }
  f.print(f.export("interface", name), " {");
  s.methods.forEach((m, i) => {
    if (i > 0) {
      f.print();
    }
    printDoc(f, docText([m.comments], m.deprecated), "  ");
    f.print("  ", member(m));
  });
  f.print("}");
  f.print();
}

/** The service's `(airlock.v1.default_retry)`, printed once for the methods that share it. */
function printSharedRetry(f: GeneratedFile, s: ServiceModel, target: Target, rt: RuntimeSymbols): void {
  if (s.sharedRetry === undefined) {
    return;
  }
  const doc = `Default retry policy of ${s.desc.typeName}, for the methods that set none.`;
  printDoc(f, target === "js" ? `${doc}\n\n@type {${rt.jsDocType("RetryPolicy")}}` : doc);
  const type: Printable = target === "ts" ? [": ", rt.RetryPolicy] : [];
  f.print("const ", s.sharedRetry.name, type, " = {");
  printRetryFields(f, s.sharedRetry.policy, "  ");
  f.print("};");
  f.print();
}

function printDefinition(f: GeneratedFile, s: ServiceModel, target: Target, rt: RuntimeSymbols): void {
  printDoc(
    f,
    docText([`How airlock runs ${s.desc.typeName}: its methods and their options from the proto file.`], s.deprecated),
  );
  const type = [rt.ServiceDefinition, "<", s.clientName, ", ", s.handlersName, ">"];
  if (target === "dts") {
    f.print(f.export("declare const", s.definitionName), ": ", type, ";");
    f.print();
    return;
  }
  const call: Printable = [rt.defineService, "(", f.importSchema(s.desc)];
  const methods = s.methods.filter((m) => Object.keys(m.options).length > 0);
  const open = methods.length === 0 ? ");" : ", {";
  let indent = "";
  if (target === "ts") {
    // Break after `=`: the annotated declaration and the call rarely fit on one line.
    f.print(f.export("const", s.definitionName), ": ", type, " =");
    indent = "  ";
    f.print(indent, call, open);
  } else {
    f.print(f.export("const", s.definitionName), " = ", call, open);
  }
  for (const m of methods) {
    f.print(indent, "  ", m.localName, ": {");
    printMethodOptions(f, s, m, `${indent}    `);
    f.print(indent, "  },");
  }
  if (methods.length > 0) {
    f.print(indent, "});");
  }
  f.print();
}

function printMethodOptions(f: GeneratedFile, s: ServiceModel, m: MethodModel, indent: string): void {
  const { idempotent, retry, attemptTimeoutMs } = m.options;
  if (idempotent === true) {
    f.print(indent, "idempotent: true,");
  }
  if (retry !== undefined && retry === s.sharedRetry?.policy) {
    f.print(indent, "retry: ", s.sharedRetry.name, ",");
  } else if (retry !== undefined) {
    f.print(indent, "retry: {");
    printRetryFields(f, retry, `${indent}  `);
    f.print(indent, "},");
  }
  if (attemptTimeoutMs !== undefined) {
    f.print(indent, "attemptTimeoutMs: ", attemptTimeoutMs, ",");
  }
}

function printRetryFields(f: GeneratedFile, policy: ResolvedRetryPolicy, indent: string): void {
  f.print(indent, "maxAttempts: ", policy.maxAttempts, ",");
  f.print(indent, "initialBackoffMs: ", policy.initialBackoffMs, ",");
  f.print(indent, "maxBackoffMs: ", policy.maxBackoffMs, ",");
  f.print(indent, "backoffMultiplier: ", policy.backoffMultiplier, ",");
  f.print(indent, "retryableCodes: [", policy.retryableCodes.map((code) => JSON.stringify(code)).join(", "), "],");
}

function printClientFactory(f: GeneratedFile, s: ServiceModel, target: Target, rt: RuntimeSymbols): void {
  const text = `Creates a client of ${s.desc.typeName} that sends its calls through \`channel\`.`;
  const param = target === "js" ? `@param {${rt.jsDocType("Channel")}} channel` : "";
  printDoc(f, docText([text, param], s.deprecated));
  switch (target) {
    case "dts":
      f.print(f.export("declare function", s.factoryName), "(channel: ", rt.Channel, "): ", s.clientName, ";");
      break;
    case "ts":
      f.print(f.export("function", s.factoryName), "(channel: ", rt.Channel, "): ", s.clientName, " {");
      f.print("  return ", rt.createClient, "(", s.definitionName, ", channel);");
      f.print("}");
      break;
    case "js":
      f.print(f.export("function", s.factoryName), "(channel) {");
      f.print("  return ", rt.createClient, "(", s.definitionName, ", channel);");
      f.print("}");
      break;
  }
  f.print();
}

function printDoc(f: GeneratedFile, text: string, indent = ""): void {
  if (text !== "") {
    f.print(f.jsDoc(text, indent));
  }
}
