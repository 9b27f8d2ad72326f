import { create, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { AirlockError, Code, createPool, type Pool } from "airlock";
import { createArenaFd, openReadableArena } from "../runtime/blobs/blob-arena.js";
import { copyReplyBlobs } from "../runtime/process/reply-blobs.js";
import { encodeBlobTable, type BlobRef } from "../runtime/wire/blob-table.js";
import { createFrameReader, creditBody, decodeMessageBody, FrameFlag, FrameType, type Frame } from "../runtime/wire/frame.js";
import { nativeAddon } from "../runtime/os/native.js";
import { createStreamServiceClient } from "./gen/airlock/test/v1/stream_airlock.js";
import { createTestServiceClient } from "./gen/airlock/test/v1/test_airlock.js";
import { BlobsReplySchema, EchoReplySchema } from "./gen/airlock/test/v1/test_pb.js";
import { workerPath } from "./support/crashy.js";
import { checkLeaksAfterEach, eventually } from "./support/leaks.js";

const codeNames = Object.fromEntries(Object.values(Code).map((code) => [code, true]));

// Stand-ins the hostile worker replaces with the live call id and its real arena generation.
const liveCallId = 0xaaaaaaaa;
const liveGeneration = 0xbbbbbbbb;

const blobRef = (generation: fc.Arbitrary<number>) =>
  fc.record({
    arena: fc.constantFrom(0, 1, 1, 1, 2, 255),
    generation,
    offset: fc.oneof(fc.nat(4096), fc.constantFrom(0, 1 << 20, (1 << 20) - 1, 0xffffffff), fc.nat()),
    length: fc.oneof(fc.nat(4096), fc.constantFrom(0, 1 << 20, 0xffffffff), fc.nat()),
    path: fc.array(fc.record({ field: fc.constantFrom(1, 2, 3, 99, 0), index: fc.constantFrom(-1, 0, 1, 7, -5) }), { minLength: 1, maxLength: 4 }),
  }) as fc.Arbitrary<BlobRef>;

function frameBytes(type: number, flags: number, id: number, body: Uint8Array): Buffer {
  const frame = Buffer.alloc(16 + body.length);
  frame.writeUInt32LE(frame.length - 4, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt8(flags, 5);
  frame.writeUInt32LE(id >>> 0, 8);
  frame.set(body, 16);
  return frame;
}

function replyWithBlobs(reply: Uint8Array, table: Buffer): Buffer {
  const body = Buffer.alloc(4 + table.length + reply.length);
  body.writeUInt32LE(table.length, 0);
  table.copy(body, 4);
  body.set(reply, 4 + table.length);
  return frameBytes(FrameType.Reply, FrameFlag.Blobs, liveCallId, body);
}

/** What a hostile worker may send: garbage, frames of any shape, replies with forged blob handles. */
const attack = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 64 }),
  fc
    .record({ type: fc.nat(16), flags: fc.nat(3), id: fc.constantFrom(liveCallId, 0, 12345), body: fc.uint8Array({ maxLength: 48 }) })
    .map(({ type, flags, id, body }) => frameBytes(type, flags, id, body)),
  fc
    .array(blobRef(fc.constantFrom(liveGeneration, 0, 1)), { minLength: 1, maxLength: 3 })
    .map((refs) => replyWithBlobs(toBinary(EchoReplySchema, create(EchoReplySchema, { text: "forged" })), encodeBlobTable(refs))),
  fc
    .record({ size: fc.constantFrom(0, 5, 0x7fffffff, 0xffffffff), rest: fc.uint8Array({ maxLength: 16 }) })
    .map(({ size, rest }) => Buffer.concat([Buffer.from(new Uint32Array([size]).buffer), rest])),
);

describe("the parent's decoding of worker bytes, fuzzed in process", () => {
  const results = { ...openReadableArena(createArenaFd("airlock-fuzz", 1 << 20), 1 << 20), generation: 7 };
  afterAll(() => results.close());

  const onlyProtocolErrors = (run: () => void) => {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(AirlockError);
      expect((error as AirlockError).code).toBe(Code.Protocol);
    }
  };

  test("the frame reader rejects any byte stream only with PROTOCOL errors", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(attack, fc.uint8Array({ maxLength: 40 })), { maxLength: 6 }), (chunks) => {
        const read = createFrameReader(() => undefined, 1 << 20);
        onlyProtocolErrors(() => chunks.forEach((chunk) => read(Buffer.from(chunk))));
      }),
      { numRuns: 5000 },
    );
  });

  test("forged blob handles are refused before any byte is read", () => {
    fc.assert(
      fc.property(fc.array(blobRef(fc.constantFrom(7, 8, 0)), { minLength: 1, maxLength: 4 }), (refs) => {
        const bytes = replyWithBlobs(new Uint8Array(0), encodeBlobTable(refs));
        const frame: Frame = { type: FrameType.Reply, flags: FrameFlag.Blobs, attempt: 0, id: 1, timeoutMs: 0, bytes, bodyStart: 16, bodyEnd: bytes.length, memory: bytes.buffer, memoryOffset: bytes.byteOffset };
        onlyProtocolErrors(() => {
          const { blobTable } = decodeMessageBody(frame);
          copyReplyBlobs(BlobsReplySchema, { $typeName: BlobsReplySchema.typeName, seen: [], data: new Uint8Array(0) }, blobTable!, results, (length) => new Uint8Array(length));
        });
      }),
      { numRuns: 5000 },
    );
  });

  test("a truncated or padded blob table is a PROTOCOL error", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (table) => {
        onlyProtocolErrors(() => copyReplyBlobs(BlobsReplySchema, { seen: [], data: new Uint8Array(0) }, Buffer.from(table), results, (length) => new Uint8Array(length)));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("a hostile worker, end to end", () => {
  let pool: Pool | undefined;
  afterEach(async () => {
    await pool?.close({ timeoutMs: 100 });
    pool = undefined;
  });
  checkLeaksAfterEach();

  test("the parent survives every attack, each call settles, and the pool keeps serving", async () => {
    pool = await createPool({
      worker: workerPath("hostile-worker"),
      workers: 1,
      standby: 1,
      forwardStderr: false,
      restartIntensity: { maxRestarts: 10_000, withinMs: 1000 },
      // Some attacks (half a frame, an answer to another call) look like a slow worker: they
      // end at the deadline, then the kill after the cancel grace.
      cancelGraceMs: 100,
    });
    const client = createTestServiceClient(pool);
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(attack, async (bytes) => {
        const outcome = await client.echo({ text: "attack", data: bytes }, { timeoutMs: 300, retry: false }).then(
          () => "answered",
          (error: unknown) => (error instanceof AirlockError ? error.code : "not an AirlockError"),
        );
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        expect(outcome).not.toBe("not an AirlockError");
      }),
      { numRuns: 60 },
    );
    expect(outcomes.get(Code.Protocol)).toBeGreaterThan(0);
    expect([...outcomes.keys()].every((outcome) => outcome === "answered" || outcome in codeNames)).toBe(true);
    expect((await client.echo({ text: "still serving" })).text).toBe("still serving");
    expect(nativeAddon()).toBeDefined();
  }, 120_000);
});

describe("a hostile worker breaking a stream", () => {
  let pool: Pool;
  const exits: { cause: string; reason: string }[] = [];
  beforeEach(async () => {
    exits.length = 0;
    pool = await createPool({
      worker: workerPath("stream-worker"),
      workers: 1,
      forwardStderr: false,
      streams: { windowMessages: 64 },
      onEvent: (event) => event.type === "worker-exited" && exits.push({ cause: event.cause, reason: event.reason }),
    });
  });
  afterEach(() => pool.close());
  checkLeaksAfterEach();

  // Runs a bidi call whose worker writes `bytes` to its channel, then answers "after"; the
  // caller pauses `pauseMs` after each reply.
  async function attackStream(bytes: Buffer, pauseMs = 0): Promise<{ replies: string[]; error: AirlockError | undefined }> {
    const replies: string[] = [];
    async function* requests() {
      yield { text: "attack", data: bytes };
      yield { text: "after" };
    }
    try {
      for await (const reply of createStreamServiceClient(pool).echo(requests(), { retry: false })) {
        replies.push(reply.text);
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    } catch (error) {
      return { replies, error: error as AirlockError };
    }
    return { replies, error: undefined };
  }

  async function stillServing(): Promise<void> {
    async function* one() {
      yield { text: "still serving" };
    }
    const replies: string[] = [];
    for await (const reply of createStreamServiceClient(pool).echo(one())) replies.push(reply.text);
    expect(replies).toEqual(["still serving"]);
  }

  test("a message that is not of the method's output type is a PROTOCOL error that kills the worker; nothing it sends after is read", async () => {
    // Field 1 of EchoMessage is a string: bytes that are not UTF-8 cannot decode as one. The
    // End behind it, in the same write, would otherwise end the stream well.
    const bad = frameBytes(FrameType.Message, 0, liveCallId, new Uint8Array([0x0a, 0x02, 0xff, 0xfe]));
    const { error } = await attackStream(Buffer.concat([bad, frameBytes(FrameType.End, 0, liveCallId, new Uint8Array(0))]));
    expect(error?.code).toBe(Code.Protocol);
    expect(exits).toEqual([expect.objectContaining({ cause: "protocol", reason: expect.stringMatching(/no airlock\.test\.v1\.EchoMessage/) })]);
    await stillServing();
  });

  test("a message for a stream that is over is a PROTOCOL error that kills the worker; the stream had ended well", async () => {
    const end = frameBytes(FrameType.End, 0, liveCallId, new Uint8Array(0));
    const late = frameBytes(FrameType.Message, 0, liveCallId, new Uint8Array(0));
    const { replies, error } = await attackStream(Buffer.concat([end, late]));
    expect(error).toBeUndefined();
    expect(replies).toEqual([]);
    await eventually(() => exits.length === 1);
    expect(exits[0]).toMatchObject({ cause: "protocol", reason: expect.stringMatching(/which has no open stream/) });
    await stillServing();
  });

  test("credit for more requests than were sent is a PROTOCOL error that kills the worker", async () => {
    const { error } = await attackStream(frameBytes(FrameType.Credit, 0, liveCallId, creditBody(1000)));
    expect(error?.code).toBe(Code.Protocol);
    expect(exits[0]).toMatchObject({ cause: "protocol", reason: expect.stringMatching(/credited 1000 requests/) });
    await stillServing();
  });

  test("more messages than the window allows, unread by a slow caller, is a PROTOCOL error that kills the worker", async () => {
    const message = frameBytes(FrameType.Message, 0, liveCallId, new Uint8Array(0));
    const { replies, error } = await attackStream(Buffer.concat(Array.from({ length: 100 }, () => message)), 50);
    expect(error?.code).toBe(Code.Protocol);
    // The caller read the first at once; 64 more fit the window; the rest broke it.
    expect(error?.details.delivered).toBe(65);
    expect(replies).toHaveLength(65);
    expect(exits[0]).toMatchObject({ cause: "protocol", reason: expect.stringMatching(/more than the stream's window/) });
    await stillServing();
  });
});
