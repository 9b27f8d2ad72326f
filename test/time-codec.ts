// Times airlock's codec against toBinary/fromBinary per schema of ../shared/codec-protos, on
// random messages of 4 values (as most calls are), of 64, and of 4 with a 32 KiB bytes value:
// `node dist/test/time-codec.js [rounds] [schema pattern]`. Rounds alternate the two codecs;
// each line gives the median CPU ns per message of each (CPU time, as the machine is shared)
// and their ratio (protobuf-es / ours: above 1, ours is faster).
import { create, fromBinary, ScalarType, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { decodeMessage } from "../runtime/proto/proto-decode.js";
import { encodeMessage } from "../runtime/proto/proto-encode.js";
import { loadCodecProtos } from "./support/codec-protos.js";
import { messageInit, random } from "./support/random-messages.js";

const rounds = Number(process.argv[2] ?? 5);
const pattern = new RegExp(process.argv[3] ?? ".");
const messagesPerRound = 200;
const passes = 10;
const largeValue = new Uint8Array(32 * 1024).fill(7);
const kinds = [
  { name: "4 values", budget: 4, large: false },
  { name: "64 values", budget: 64, large: false },
  { name: "4 values + 32 KiB", budget: 4, large: true },
];

const protos = loadCodecProtos();
if (typeof protos === "string") throw new Error(protos);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

// CPU ns per call of `run`, over `passes` passes of `items`.
function time<T>(items: readonly T[], run: (item: T) => unknown): number {
  const started = process.cpuUsage();
  for (let pass = 0; pass < passes; pass++) for (const item of items) run(item);
  const { user, system } = process.cpuUsage(started);
  return ((user + system) * 1000) / (items.length * passes);
}

function compare(schema: DescMessage, kind: (typeof kinds)[number]): string | undefined {
  const bytesField = schema.fields.find((field) => field.fieldKind === "scalar" && field.scalar === ScalarType.BYTES && !field.oneof);
  if (kind.large && !bytesField) return undefined;
  const messages: object[] = [];
  for (let seed = 1; messages.length < messagesPerRound && seed < messagesPerRound * 4; seed++) {
    try {
      const init = messageInit(schema, random(seed), 0, { values: kind.budget });
      if (kind.large) init[bytesField!.localName] = largeValue;
      const message = create(schema, init as never);
      toBinary(schema, message);
      messages.push(message);
    } catch {
      // Not encodable: not timed.
    }
  }
  if (messages.length === 0) return undefined;
  const encoded = messages.map((message) => Buffer.from(toBinary(schema, message as never)));
  const times = { toBinary: [] as number[], encodeMessage: [] as number[], fromBinary: [] as number[], decodeMessage: [] as number[] };
  // Round 0 warms both up.
  for (let round = 0; round <= rounds; round++) {
    const toBinaryNs = time(messages, (message) => toBinary(schema, message as never));
    const encodeNs = time(messages, (message) => encodeMessage(schema, message));
    const fromBinaryNs = time(encoded, (bytes) => fromBinary(schema, bytes));
    const decodeNs = time(encoded, (bytes) => decodeMessage(schema, bytes));
    if (round === 0) continue;
    times.toBinary.push(toBinaryNs);
    times.encodeMessage.push(encodeNs);
    times.fromBinary.push(fromBinaryNs);
    times.decodeMessage.push(decodeNs);
  }
  const bytes = encoded.reduce((sum, b) => sum + b.length, 0) / encoded.length;
  const figure = (theirs: number[], ours: number[]) => `${median(theirs).toFixed(0)}/${median(ours).toFixed(0)} ns ${(median(theirs) / median(ours)).toFixed(2)}x`;
  return `${schema.typeName} (${schema.fields.length} fields), ${kind.name}, ${bytes.toFixed(0)} B: encode ${figure(times.toBinary, times.encodeMessage)}, decode ${figure(times.fromBinary, times.decodeMessage)}`;
}

for (const schema of protos.schemas.filter((candidate) => pattern.test(candidate.typeName))) {
  for (const kind of kinds) {
    const line = compare(schema, kind);
    if (line) console.log(line);
  }
}
