import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { createFrameReader, createFrameWriter, decodeCallBody, decodeJsonBody, decodeMessageBody, FrameFlag, FrameType, jsonBody, type Frame } from "../runtime/wire/frame.js";

// A connected pair of real Unix sockets: what the writer writes to one, the reader reads from the other.
async function socketPair(): Promise<{ writing: Socket; reading: Socket; close: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-frame-"));
  const server: Server = createServer();
  server.listen(path.join(dir, "socket"));
  await once(server, "listening");
  const accepted = once(server, "connection") as Promise<[Socket]>;
  const writing = connect(path.join(dir, "socket"));
  const [reading] = await accepted;
  return {
    writing,
    reading,
    close: () => {
      writing.destroy();
      reading.destroy();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function pattern(length: number, seed: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

test("frames written in many ticks, small and large, with and without blob tables, arrive whole and in order", async () => {
  const { writing, reading, close } = await socketPair();
  try {
    const writer = createFrameWriter(writing);
    const received: Frame[] = [];
    const read = createFrameReader((frame) => received.push({ ...frame, bytes: Buffer.from(frame.bytes) }), 1 << 26);
    reading.on("data", read);
    const path = Buffer.from("/airlock.test.v1.TestService/Echo");
    const table = pattern(40, 9);
    // Sizes around the copy limit and the slab size, so that bodies are copied and written as
    // they are, slabs fill up mid-tick, and one tick mixes both.
    const sizes = [0, 1, 64, 16 * 1024, 16 * 1024 + 1, 40_000, 64 * 1024, 200_000, 3];
    const expected: { type: FrameType; id: number; body: Buffer; blobs: boolean }[] = [];
    let id = 1;
    for (let tick = 0; tick < 4; tick++) {
      for (const size of sizes) {
        const body = pattern(size, id);
        const blobs = id % 3 === 0;
        // Calls of the first tick name their method by path, the later ones by number only.
        if (id % 2 === 0) writer.call(id, 2, 1500, 70_000 + id, tick === 0 ? path : undefined, body, blobs ? table : undefined);
        else writer.message(FrameType.Reply, id, body, blobs ? table : undefined);
        expected.push({ type: id % 2 === 0 ? FrameType.Call : FrameType.Reply, id, body, blobs });
        id += 1;
      }
      writer.frame(FrameType.Error, id, jsonBody({ code: "UNKNOWN", n: id }));
      expected.push({ type: FrameType.Error, id, body: Buffer.alloc(0), blobs: false });
      id += 1;
      await new Promise((resolve) => setImmediate(resolve));
    }
    while (received.length < expected.length) await once(reading, "data");
    expect(received.length).toBe(expected.length);
    received.forEach((frame, i) => {
      const want = expected[i]!;
      expect([frame.type, frame.id, frame.flags & FrameFlag.Blobs ? true : false]).toEqual([want.type, want.id, want.blobs]);
      if (frame.type === FrameType.Call) {
        const call = decodeCallBody(frame);
        expect([frame.attempt, frame.timeoutMs, call.method, call.path]).toEqual([2, 1500, 70_000 + want.id, i < sizes.length ? path.toString() : undefined]);
        expect(frame.bytes.subarray(call.protobufStart, frame.bodyEnd).equals(want.body)).toBe(true);
        expect(call.blobTable?.equals(table) ?? false).toBe(want.blobs);
      } else if (frame.type === FrameType.Reply) {
        const reply = decodeMessageBody(frame);
        expect(frame.bytes.subarray(reply.protobufStart, frame.bodyEnd).equals(want.body)).toBe(true);
        expect(reply.blobTable?.equals(table) ?? false).toBe(want.blobs);
      } else {
        expect(decodeJsonBody(frame)).toEqual({ code: "UNKNOWN", n: want.id });
      }
    });
  } finally {
    close();
  }
});

test("a burst of frames leaves a few at a time, so that the reader can start before the writer's tick ends", async () => {
  const { writing, reading, close } = await socketPair();
  try {
    const writer = createFrameWriter(writing);
    const writes = jest.spyOn(writing, "write");
    const ids: number[] = [];
    reading.on("data", createFrameReader((frame) => ids.push(frame.id), 1 << 20));
    for (let id = 1; id <= 64; id++) writer.message(FrameType.Reply, id, pattern(64, id), undefined);
    const writtenInTick = writes.mock.calls.length;
    while (ids.length < 64) await once(reading, "data");
    expect(writtenInTick).toBe(8);
    expect(writes.mock.calls.length).toBe(8);
    expect(ids).toEqual(Array.from({ length: 64 }, (_, i) => i + 1));
  } finally {
    close();
  }
});

test("a stream cut at every byte yields the same frames", () => {
  const frames = [pattern(10, 1), pattern(0, 2), pattern(300, 3)].map((body, i) => {
    const frame = Buffer.alloc(16 + body.length);
    frame.writeUInt32LE(frame.length - 4, 0);
    frame[4] = FrameType.Reply;
    frame.writeUInt32LE(i + 1, 8);
    body.copy(frame, 16);
    return frame;
  });
  const stream = Buffer.concat(frames);
  for (let cut = 0; cut <= stream.length; cut++) {
    const seen: string[] = [];
    const read = createFrameReader((frame) => seen.push(`${frame.id}:${frame.bytes.toString("hex", decodeMessageBody(frame).protobufStart, frame.bodyEnd)}`), 1024);
    read(stream.subarray(0, cut));
    read(stream.subarray(cut));
    expect(seen).toEqual(frames.map((frame) => `${frame.readUInt32LE(8)}:${frame.subarray(16).toString("hex")}`));
  }
});
