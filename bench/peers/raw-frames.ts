// The raw socket peer's wire format: a 4-byte little-endian length, then one byte of operation,
// then the body. Replies come back in the order of the requests, so they carry no id.
import type { Socket } from "node:net";

export const Op = { Ready: 0, Echo: 1, Sink: 2, Fill: 3, Stream: 4 } as const;

const framesPerWrite = 8;

/** Bodies up to this size are copied behind their header into one buffer; larger ones are written as they are. */
const copyLimit = 16 * 1024;

/** Returns a function to feed with what the socket reads; calls `onFrame` for each whole frame. */
export function frameReader(onFrame: (op: number, body: Buffer) => void): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  let buffered = 0;
  return (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= 4) {
      let head = chunks[0]!;
      if (head.length < 4) {
        head = Buffer.concat(chunks, buffered);
        chunks = [head];
      }
      const total = 4 + head.readUInt32LE(0);
      if (buffered < total) return;
      let frame: Buffer;
      if (head.length >= total) {
        frame = head.subarray(0, total);
        if (head.length === total) chunks.shift();
        else chunks[0] = head.subarray(total);
      } else {
        // A frame split across reads: joined once, when all of it has arrived.
        const joined = Buffer.concat(chunks, buffered);
        frame = joined.subarray(0, total);
        chunks = joined.length > total ? [joined.subarray(total)] : [];
      }
      buffered -= total;
      onFrame(frame[4]!, frame.subarray(5));
    }
  };
}

/**
 * Returns a function that writes a frame; frames written in one tick leave in writevs of up to
 * `framesPerWrite`, as airlock's do (runtime/frame.ts says why), so that the two designs differ
 * in what they do per call, not in how they schedule writes.
 */
export function frameWriter(socket: Socket): (op: number, body: Uint8Array) => void {
  let corked = false;
  let waiting = 0;
  const uncork = () => {
    corked = false;
    waiting = 0;
    socket.uncork();
  };
  return (op, body) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    if (body.length <= copyLimit) {
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame.writeUInt32LE(1 + body.length, 0);
      frame[4] = op;
      frame.set(body, 5);
      socket.write(frame);
    } else {
      const header = Buffer.allocUnsafe(5);
      header.writeUInt32LE(1 + body.length, 0);
      header[4] = op;
      socket.write(header);
      socket.write(body);
    }
    if (++waiting === framesPerWrite) {
      waiting = 0;
      socket.uncork();
      socket.cork();
    }
  };
}

/** A 4-byte little-endian unsigned integer. */
export function u32(value: number): Buffer {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32LE(value, 0);
  return bytes;
}
