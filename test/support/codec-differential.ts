// The differential test of airlock's codec against @bufbuild/protobuf: random messages of
// every schema given, encoded by encodeMessage and compared byte for byte with toBinary (in a
// stream, and at every offset across the end of the encoder's slab), and decoded by
// decodeMessage and compared with fromBinary (as an exact buffer and in a chunk among other
// bytes; from the other packing of repeated fields; as another schema, which makes unknown
// fields and wire types the schema does not expect; damaged). The blob walk is checked on the
// same messages: what takeBlobs takes out and putBlob puts back must arrive as it was.
// test/codec-differential.test.ts runs it small; `npm run fuzz:codec` runs it large.
import { create, fromBinary, toBinary, type DescMessage, type Registry } from "@bufbuild/protobuf";
import { putBlob, takeBlobs } from "../../runtime/blobs/blob-fields.js";
import { decodeMessage } from "../../runtime/proto/proto-decode.js";
import { encodeMessage } from "../../runtime/proto/proto-encode.js";
import { damaged, messageInit, random, type Budget, type Random } from "./random-messages.js";
import { messageDifference } from "./same-message.js";
import { nextSlot, offsetsAcrossTheEnd, positionSlab } from "./slab.js";

type Message = Record<string, unknown>;
type Decoded = { readonly actual: object; readonly expected: object; readonly decodeAgain: () => object };

export interface DifferentialOptions {
  readonly schemas: readonly DescMessage[];
  /** The schemas' registry, to compare extensions (kept as unknown fields) too. */
  readonly registry: Registry;
  /** A schema with the packing of its repeated fields flipped, to decode the other packing; undefined for a schema it does not know. */
  readonly flipped?: (schema: DescMessage) => DescMessage | undefined;
  /** Random messages encoded and decoded one after another, taking the schemas in turn. */
  readonly messages: number;
  /** Messages per schema encoded at every offset across the slab's end. */
  readonly sweeps: number;
  /** At most this many offsets per swept message (all near its ends, the rest spread); 2,048 unless told. */
  readonly sweepOffsets?: number;
  readonly seed: number;
  /** How many failures the report keeps (it counts them all); 50 unless told. */
  readonly keepFailures?: number;
  /** Called every so many messages with the figures so far. */
  readonly progress?: (report: DifferentialReport) => void;
}

export interface DifferentialReport {
  readonly schemas: number;
  /** Stream messages made, including those toBinary refused. */
  messages: number;
  /** Stream messages toBinary refused: encodeMessage must refuse them with the same error. */
  refused: number;
  /** The bytes of the stream messages toBinary encoded. */
  bytes: number;
  /** encodeMessage results compared with toBinary, sweeps included. */
  encodings: number;
  /** decodeMessage results (values or refusals) compared with fromBinary. */
  decodings: number;
  /** Slab offsets at which sweep messages were encoded. */
  sweptOffsets: number;
  /** Differences found. */
  failureCount: number;
  /** The first of them, with the schema and the seed that reproduce each. */
  readonly failures: string[];
}

// How many values a message holds at most: mostly a couple of dozen, as in calls; one in 16
// from 1 to 256; one in 64 as many as the nesting allows (for the conformance messages that is
// tens of KiB, often more than a slab).
function budgetOf(rng: Random): Budget {
  const roll = rng.int(64);
  return { values: roll === 0 ? Infinity : roll <= 4 ? 2 ** rng.int(9) : 24 };
}

/** Runs the differential test; every difference found is in the report's failures. */
export function runDifferential(options: DifferentialOptions): DifferentialReport {
  const report: DifferentialReport = { schemas: options.schemas.length, messages: 0, refused: 0, bytes: 0, encodings: 0, decodings: 0, sweptOffsets: 0, failureCount: 0, failures: [] };
  const run = new Run(options, report);
  options.schemas.forEach((schema, i) => {
    for (let k = 0; k < options.sweeps; k++) run.sweep(schema, messageSeed(options.seed, -1 - i * options.sweeps - k));
  });
  for (let i = 0; i < options.messages; i++) {
    run.stream(options.schemas[i % options.schemas.length]!, messageSeed(options.seed, i));
    if (options.progress && (i + 1) % 100_000 === 0) options.progress(report);
  }
  return report;
}

function messageSeed(runSeed: number, i: number): number {
  return (Math.imul(runSeed, 0x9e3779b1) + i) >>> 0;
}

type Outcome<T> = { readonly value: T; readonly error?: undefined } | { readonly error: string };

function outcome<T>(compute: () => T): Outcome<T> {
  try {
    return { value: compute() };
  } catch (error) {
    return { error: String((error as Error).message) };
  }
}

class Run {
  constructor(
    private readonly options: DifferentialOptions,
    private readonly report: DifferentialReport,
  ) {}

  /** One message of `schema` from `seed`, through everything but the sweep. */
  stream(schema: DescMessage, seed: number): void {
    const rng = random(seed);
    const what = `${schema.typeName} seed ${seed}`;
    const init = messageInit(schema, rng, 0, budgetOf(rng));
    const message = create(schema, init as never);
    this.report.messages += 1;
    const expected = this.encoding(schema, message, what);
    if (!expected) {
      this.report.refused += 1;
      return;
    }
    this.report.bytes += expected.length;
    const decoded = this.decodingAndBack(schema, expected, rng, `${what}, its bytes`);
    if (decoded) this.blobs(schema, message, decoded, what);
    const flipped = this.options.flipped?.(schema);
    if (flipped) {
      const other = outcome(() => toBinary(flipped, create(flipped, init as never)));
      if (other.error === undefined) this.decodingAndBack(schema, other.value, rng, `${what}, repeated fields in the other packing`);
    }
    const stranger = rng.pick(this.options.schemas);
    this.decodingAndBack(stranger, expected, rng, `${what}, its bytes read as ${stranger.typeName}`);
    const broken = rng.pick(damaged(Buffer.from(expected), rng));
    this.decoding(schema, broken, rng, `${what}, damaged to ${hex(broken)}`);
  }

  /** Encodes a message of `schema` from `seed` at every offset across the slab's end; from odd seeds, the message as decoded (proto2 defaults on a prototype, closed enums' unknown values). */
  sweep(schema: DescMessage, seed: number): void {
    const what = `${schema.typeName} seed ${seed} swept`;
    const made = outcome(() => {
      const rng = random(seed);
      const created = create(schema, messageInit(schema, rng, 0, budgetOf(rng)) as never);
      const message = (seed % 2 === 0 ? created : fromBinary(schema, toBinary(schema, created))) as Message;
      return { message, expected: Buffer.from(toBinary(schema, message as never)) };
    });
    if (made.error !== undefined) return;
    const { message, expected } = made.value;
    for (const offset of offsetsAcrossTheEnd(expected.length, this.options.sweepOffsets)) {
      positionSlab(offset);
      const actual = outcome(() => Buffer.from(encodeMessage(schema, message)));
      this.report.sweptOffsets += 1;
      this.report.encodings += 1;
      if (actual.error !== undefined) this.fail(`${what}: encodeMessage at slab offset ${offset} threw ${actual.error}`);
      else if (!actual.value.equals(expected)) this.fail(`${what}: encodeMessage at slab offset ${offset} wrote ${hex(actual.value)}, toBinary ${hex(expected)}`);
    }
  }

  // Compares encodeMessage with toBinary; returns toBinary's bytes, or undefined when it refused.
  private encoding(schema: DescMessage, message: object, what: string): Uint8Array | undefined {
    const at = nextSlot().offset;
    const expected = outcome(() => toBinary(schema, message as never));
    const actual = outcome(() => Buffer.from(encodeMessage(schema, message)));
    this.report.encodings += 1;
    if (expected.error !== undefined) {
      if (actual.error !== expected.error) this.fail(`${what}: toBinary threw ${expected.error}, encodeMessage ${actual.error === undefined ? "did not" : `threw ${actual.error}`}`);
      return undefined;
    }
    if (actual.error !== undefined) this.fail(`${what}: encodeMessage at slab offset ${at} threw ${actual.error}`);
    else if (!actual.value.equals(expected.value)) this.fail(`${what}: encodeMessage at slab offset ${at} wrote ${hex(actual.value)}, toBinary ${hex(expected.value)}`);
    return expected.value;
  }

  // Decodes `bytes` both ways; what decoded must encode back as toBinary encodes fromBinary's result.
  private decodingAndBack(schema: DescMessage, bytes: Uint8Array, rng: Random, what: string): Decoded | undefined {
    const decoded = this.decoding(schema, bytes, rng, what);
    if (decoded) this.encoding(schema, decoded.actual, `${what}, decoded and encoded again`);
    return decoded;
  }

  // Compares decodeMessage with fromBinary on `bytes`, placed at random: alone in a buffer
  // that ends with them (a read past them finds nothing), or amid bytes that a read past them
  // would take for more message (with the chunk's memory passed, as the frame reader passes
  // it, or not). Returns both decodings (and the oracle's second) when both decoded.
  private decoding(schema: DescMessage, bytes: Uint8Array, rng: Random, what: string): Decoded | undefined {
    const input = new Uint8Array(bytes);
    const expected = outcome(() => fromBinary(schema, input));
    const placement = rng.int(3);
    const chunk = Buffer.alloc(bytes.length + (placement === 0 ? 0 : 24), placement === 1 ? 0x01 : 0x81);
    const start = placement === 0 ? 0 : 12;
    chunk.set(bytes, start);
    const where = placement === 0 ? "alone" : `amid 0x${chunk[0]!.toString(16)} bytes`;
    const actual = outcome(() =>
      placement === 2 ? decodeMessage(schema, chunk, start, start + bytes.length, chunk.buffer, chunk.byteOffset) : decodeMessage(schema, chunk, start, start + bytes.length),
    );
    this.report.decodings += 1;
    if (expected.error !== undefined || actual.error !== undefined) {
      if ((expected.error === undefined) !== (actual.error === undefined)) {
        this.fail(`${what}: decoded ${where}, fromBinary ${expected.error === undefined ? "decoded" : `threw ${expected.error}`}, decodeMessage ${actual.error === undefined ? "decoded" : `threw ${actual.error}`}`);
      }
      return undefined;
    }
    const decoded = { actual: actual.value as object, expected: expected.value as object, decodeAgain: () => fromBinary(schema, input) as object };
    const difference = messageDifference(schema, decoded.actual, decoded.expected, decoded.decodeAgain, this.options.registry);
    if (difference) this.fail(`${what}: decoded ${where}, decodeMessage differs from fromBinary: ${difference}`);
    return decoded;
  }

  // Every bytes value taken out (as a field marked ALWAYS would be) and put back after the
  // crossing must give the message that its bytes alone give.
  private blobs(schema: DescMessage, message: object, { expected, decodeAgain }: Decoded, what: string): void {
    const arrived = outcome(() => {
      const took = takeBlobs(schema, message as Message, (value) => value);
      if (!took) return undefined;
      const received = fromBinary(schema, toBinary(schema, took.message as never)) as Message;
      for (const { path, token } of took.taken) putBlob(schema, received, path, token);
      return received;
    });
    if (arrived.error !== undefined) return this.fail(`${what}: taking and putting back its bytes values threw ${arrived.error}`);
    if (arrived.value === undefined) return;
    const difference = messageDifference(schema, arrived.value, expected, decodeAgain, this.options.registry);
    if (difference) this.fail(`${what}: with its bytes values taken out and put back, it arrives otherwise: ${difference}`);
  }

  private fail(failure: string): void {
    this.report.failureCount += 1;
    if (this.report.failures.length < (this.options.keepFailures ?? 50)) this.report.failures.push(failure.length > 2000 ? `${failure.slice(0, 2000)}...` : failure);
  }
}

function hex(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString("hex");
  return text.length > 400 ? `${text.slice(0, 200)}...(${bytes.length} bytes)...${text.slice(-200)}` : text;
}
