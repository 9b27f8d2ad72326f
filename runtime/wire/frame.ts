/**
 * The control channel's wire format: length-prefixed binary frames, little-endian.
 *
 *   0  u32  size of the frame after this field
 *   4  u8   type (FrameType)
 *   5  u8   flags: FrameFlag.Blobs when the body carries a blob table
 *   6  u16  attempt number (Call), else 0
 *   8  u32  call id, matching replies to calls; 0 for frames about the worker itself
 *   12 u32  time left to the call's deadline in ms (Call), 0 for none
 *   16      body: for Call, u32 method number, then with FrameFlag.MethodPath u16 path
 *           length + UTF-8 method path, then the protobuf request (none for a stream); for
 *           Reply and Message the protobuf message; for Credit a u32 count of messages; for
 *           Error, Ready and StartFailed a JSON object; empty for the others. With
 *           FrameFlag.Blobs, the protobuf bytes of a Call, Reply or Message are preceded by
 *           u32 table length + a blob table.
 *
 * A streaming call opens with a Call frame that carries no request; its messages follow as
 * Message frames both ways, each side grants the other credit with Credit frames
 * (stream-window.ts), the parent's HalfClose says the requests are done, and the worker's End
 * (or Error) ends the call.
 *
 * The header is fixed so that a reader never parses text to find where a frame ends, and the
 * deadline travels as time left so that the two processes need not agree on clocks. A method
 * is named by its path only in the first call of it a worker receives, which gives the path a
 * number for the calls after it: decoding the path of every call cost more than the rest of
 * reading its frame.
 */
import type { Socket } from "node:net";
// Imported rather than the global, whose getter costs about a third of a clock read.
import { performance } from "node:perf_hooks";
import { Code } from "../api/code.js";
import { AirlockError } from "../api/errors.js";

export const FrameType = {
  Call: 1,
  Cancel: 2,
  Reply: 3,
  Error: 4,
  Ready: 5,
  StartFailed: 6,
  /** Heartbeat from the parent; the worker's event loop answers with Pong. */
  Ping: 7,
  Pong: 8,
  /** The parent has copied a reply's blobs: the worker may reuse their result arena space. */
  Release: 9,
  /**
   * The parent asks the worker to leave; the end of the channel follows. A channel that ends
   * without it means the parent is gone, and the worker takes down what it started.
   */
  Leave: 10,
  /** One message of a streaming call, either way. */
  Message: 11,
  /** The parent has sent the last request message of a stream. */
  HalfClose: 12,
  /** The sender of the frame has consumed this many more of the stream's messages. */
  Credit: 13,
  /** The worker's stream ended well: no more messages follow. */
  End: 14,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const headerSize = 16;
const sizeFieldSize = 4;
const maxFrameType = FrameType.End;

/** Bits of the header's flags byte. */
export const FrameFlag = {
  Blobs: 1,
  /** A call that gives its method number a path: the first call of the method to this worker. */
  MethodPath: 2,
} as const;

/**
 * One decoded frame. Its body is `bytes[bodyStart, bodyEnd)`: the frame is not cut out of the
 * bytes read, so that decoding a frame creates no views but the ones its consumer asks for.
 */
export interface Frame {
  readonly type: FrameType;
  readonly flags: number;
  readonly attempt: number;
  readonly id: number;
  readonly timeoutMs: number;
  readonly bytes: Buffer;
  readonly bodyStart: number;
  readonly bodyEnd: number;
  /** `bytes.buffer` and `bytes.byteOffset`, read once per chunk: decoders make views from them. */
  readonly memory: ArrayBufferLike;
  readonly memoryOffset: number;
}

/** The error for bytes on the channel that cannot be a frame: the peer that sent them is broken. */
function frameError(message: string): AirlockError {
  return new AirlockError(Code.Protocol, message);
}

/** Encodes one frame on its own, for the few writes that bypass a FrameWriter. */
export function encodeFrame(type: FrameType, id: number, body: Uint8Array = emptyBody): Buffer {
  const frame = Buffer.allocUnsafe(headerSize + body.length);
  writeHeader(frame, 0, frame.length, type, 0, 0, id, 0);
  frame.set(body, headerSize);
  return frame;
}

/** The body of a frame whose body is a JSON object (errors and lifecycle messages, never hot). */
export function jsonBody(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

/** The body of a Reply or Message: its blob table (if flagged), and where in `frame.bytes` its protobuf bytes begin (they end at `frame.bodyEnd`). */
export function decodeMessageBody(frame: Frame): { protobufStart: number; blobTable: Buffer | undefined } {
  return tableAndPayload(frame, frame.bodyStart);
}

/** A call's body: its method number, the method's path when the frame names it, its blob table (if flagged), and where its request begins. */
export function decodeCallBody(frame: Frame): { method: number; path: string | undefined; protobufStart: number; blobTable: Buffer | undefined } {
  const { bytes, bodyStart, bodyEnd } = frame;
  if (bodyEnd - bodyStart < 4) throw frameError("call frame too short for its method number");
  const method = readU32(bytes, bodyStart);
  let at = bodyStart + 4;
  let path: string | undefined;
  if (frame.flags & FrameFlag.MethodPath) {
    if (bodyEnd - at < 2) throw frameError("call frame too short for its method path length");
    const pathEnd = at + 2 + readU16(bytes, at);
    if (bodyEnd < pathEnd) throw frameError("call frame shorter than its method path");
    path = bytes.toString("utf8", at + 2, pathEnd);
    at = pathEnd;
  }
  const { protobufStart, blobTable } = tableAndPayload(frame, at);
  return { method, path, protobufStart, blobTable };
}

// The blob table at `at` (if flagged), and where the protobuf bytes after it begin.
function tableAndPayload(frame: Frame, at: number): { protobufStart: number; blobTable: Buffer | undefined } {
  if (!(frame.flags & FrameFlag.Blobs)) return { protobufStart: at, blobTable: undefined };
  const tableEnd = tableEndOf(frame, at);
  return { protobufStart: tableEnd, blobTable: frame.bytes.subarray(at + 4, tableEnd) };
}

// Where the blob table that starts at `at` (with its u32 length) ends, checked against the body.
function tableEndOf(frame: Frame, at: number): number {
  if (frame.bodyEnd - at < 4) throw frameError("frame too short for its blob table length");
  const end = at + 4 + readU32(frame.bytes, at);
  if (end > frame.bodyEnd) throw frameError("frame shorter than its blob table");
  return end;
}

/** The body of a Credit frame granting `messages`. */
export function creditBody(messages: number): Uint8Array {
  const body = new Uint8Array(4);
  writeU32(body, 0, messages);
  return body;
}

/** The count a Credit frame grants; throws a PROTOCOL AirlockError for a body that is not one. */
export function decodeCredit(frame: Frame): number {
  if (frame.bodyEnd - frame.bodyStart !== 4) throw frameError("credit frame body is not 4 bytes");
  return readU32(frame.bytes, frame.bodyStart);
}

/** Parses a frame's JSON body into an object, or throws a PROTOCOL AirlockError. */
export function decodeJsonBody(frame: Frame): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(frame.bytes.toString("utf8", frame.bodyStart, frame.bodyEnd));
  } catch {
    throw frameError("frame body is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw frameError("frame body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

/**
 * Returns a function to feed with the bytes read from a stream; it calls `onFrame` for each
 * complete frame and throws a PROTOCOL AirlockError on bytes that cannot be a frame. Frames
 * are read in place, by offsets into the chunk they arrived in; a frame split across chunks
 * is joined once.
 */
export function createFrameReader(onFrame: (frame: Frame) => void, maxFrameBytes: number): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  // Where the unread bytes of chunks[0] begin.
  let offset = 0;
  let buffered = 0;
  // The memory of chunks[0], read once for all its frames (each read is a call into V8's C++),
  // and forgotten with it.
  let memoryOf: Buffer | undefined;
  let memory: ArrayBufferLike | undefined;
  let memoryOffset = 0;
  const join = () => {
    chunks[0] = chunks[0]!.subarray(offset);
    chunks = [Buffer.concat(chunks, buffered)];
    offset = 0;
  };
  return (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= sizeFieldSize) {
      if (chunks[0]!.length - offset < sizeFieldSize) join();
      const size = readU32(chunks[0]!, offset);
      if (size < headerSize - sizeFieldSize || size > maxFrameBytes) {
        throw frameError(`frame size ${size} is outside [${headerSize - sizeFieldSize}, ${maxFrameBytes}]`);
      }
      const total = sizeFieldSize + size;
      if (buffered < total) return;
      if (chunks[0]!.length - offset < total) join();
      const bytes = chunks[0]!;
      if (bytes !== memoryOf) {
        memoryOf = bytes;
        memory = bytes.buffer;
        memoryOffset = bytes.byteOffset;
      }
      const frame = decodeFrame(bytes, offset, offset + total, memory!, memoryOffset);
      buffered -= total;
      offset += total;
      if (offset === bytes.length) {
        chunks.shift();
        offset = 0;
        memoryOf = memory = undefined;
      }
      onFrame(frame);
    }
  };
}

function decodeFrame(bytes: Buffer, start: number, end: number, memory: ArrayBufferLike, memoryOffset: number): Frame {
  const type = bytes[start + 4]!;
  if (type < FrameType.Call || type > maxFrameType) throw frameError(`unknown frame type ${type}`);
  return {
    type: type as FrameType,
    flags: bytes[start + 5]!,
    attempt: readU16(bytes, start + 6),
    id: readU32(bytes, start + 8),
    timeoutMs: readU32(bytes, start + 12),
    bytes,
    bodyStart: start + headerSize,
    bodyEnd: end,
    memory,
    memoryOffset,
  };
}

/** The size a call frame declares in its header, as the reader checks it against maxFrameBytes, counting the method path it may carry. */
export function callFrameSize(pathBytes: number, requestBytes: number, blobTable: Uint8Array | undefined): number {
  return headerSize - sizeFieldSize + 4 + 2 + pathBytes + blobTableBytes(blobTable) + requestBytes;
}

/** The size a Reply or Message frame declares in its header, as the reader checks it against maxFrameBytes. */
export function messageFrameSize(replyBytes: number, blobTable: Uint8Array | undefined): number {
  return headerSize - sizeFieldSize + blobTableBytes(blobTable) + replyBytes;
}

function blobTableBytes(blobTable: Uint8Array | undefined): number {
  return blobTable ? 4 + blobTable.length : 0;
}

function writeHeader(to: Uint8Array, at: number, frameBytes: number, type: FrameType, flags: number, attempt: number, id: number, timeoutMs: number): void {
  writeU32(to, at, frameBytes - sizeFieldSize);
  to[at + 4] = type;
  to[at + 5] = flags;
  writeU16(to, at + 6, Math.min(attempt, 0xffff));
  writeU32(to, at + 8, id);
  writeU32(to, at + 12, Math.min(Math.max(0, Math.ceil(timeoutMs)), 0xffffffff));
}

// Header fields are read and written byte by byte: Buffer's readUInt32LE and writeUInt32LE
// check their arguments on every call, and that cost more than the rest of a header.
function readU16(from: Uint8Array, at: number): number {
  return from[at]! | (from[at + 1]! << 8);
}

function writeU16(to: Uint8Array, at: number, value: number): void {
  to[at] = value;
  to[at + 1] = value >>> 8;
}

function readU32(from: Uint8Array, at: number): number {
  return (from[at]! | (from[at + 1]! << 8) | (from[at + 2]! << 16)) + from[at + 3]! * 0x1000000;
}

function writeU32(to: Uint8Array, at: number, value: number): void {
  to[at] = value;
  to[at + 1] = value >>> 8;
  to[at + 2] = value >>> 16;
  to[at + 3] = value >>> 24;
}

const emptyBody = new Uint8Array(0);

/** Queues frames on a socket; frames queued in the same tick leave together, a few per write. */
export interface FrameWriter {
  /** Queues a frame other than a call or a reply, with its body if it has one. */
  frame(type: FrameType, id: number, body?: Uint8Array): void;
  /**
   * Queues a call of method number `method`, with the method's path (pre-encoded) when the
   * worker has not been told it yet; `blobTable` is passed when some request bytes travel in
   * shared memory.
   */
  call(id: number, attempt: number, timeoutMs: number, method: number, path: Buffer | undefined, request: Uint8Array, blobTable: Buffer | undefined): void;
  /** Queues a Reply or a stream's Message, with its blob table when some of its bytes travel in shared memory. */
  message(type: typeof FrameType.Reply | typeof FrameType.Message, id: number, message: Uint8Array, blobTable: Buffer | undefined): void;
}

/**
 * Returns the writer of a socket. Frames are written straight into a slab shared by the frames
 * of many ticks, and leave at the end of the tick, or as soon as `framesPerWrite` are waiting:
 * no buffer per frame, no join. Bodies too large to be worth copying leave as they are, in a
 * corked writev with the ranges around them. Bytes handed to the socket are never written
 * again (a write may still hold them); a full slab is left to the garbage collector and a new
 * one started.
 */
export function createFrameWriter(socket: Socket): FrameWriter {
  let slab = Buffer.allocUnsafeSlow(slabBytes);
  let start = 0;
  let end = 0;
  // The waiting bytes in order, when they are not just slab[start, end): earlier ranges of a
  // full slab, bodies written as they are.
  let parts: Uint8Array[] = [];
  let flushing = false;
  let waiting = 0;

  const closeRange = () => {
    if (end > start) parts.push(slab.subarray(start, end));
    start = end;
  };
  const endOfTick = () => {
    flushing = false;
    flush();
  };
  const flush = () => {
    waiting = 0;
    if (parts.length === 0) {
      if (end === start) return;
      socket.write(slab.subarray(start, end));
      start = end;
      return;
    }
    closeRange();
    const written = parts;
    parts = [];
    socket.cork();
    for (const part of written) socket.write(part);
    socket.uncork();
  };

  // `method` is a call's method number (undefined for other frames), `path` its path if named.
  function queue(type: FrameType, flags: number, attempt: number, id: number, timeoutMs: number, method: number | undefined, path: Buffer | undefined, table: Buffer | undefined, payload: Uint8Array): void {
    const prefixBytes = headerSize + (method === undefined ? 0 : 4) + (path ? 2 + path.length : 0) + (table ? 4 + table.length : 0);
    const copied = payload.length <= copyLimitBytes;
    const slabNeeds = prefixBytes + (copied ? payload.length : 0);
    if (end + slabNeeds > slab.length) {
      closeRange();
      slab = Buffer.allocUnsafeSlow(Math.max(slabBytes, slabNeeds));
      start = end = 0;
    }
    writeHeader(slab, end, prefixBytes + payload.length, type, flags, attempt, id, timeoutMs);
    end += headerSize;
    if (method !== undefined) {
      writeU32(slab, end, method);
      end += 4;
    }
    if (path) {
      writeU16(slab, end, path.length);
      end += 2 + path.copy(slab, end + 2);
    }
    if (table) {
      writeU32(slab, end, table.length);
      end += 4 + table.copy(slab, end + 4);
    }
    if (copied) {
      slab.set(payload, end);
      end += payload.length;
    } else {
      closeRange();
      parts.push(payload);
    }
    if (type === FrameType.Message ? messageLeavesNow() : ++waiting === framesPerWrite) flush();
    else if (!flushing) {
      flushing = true;
      process.nextTick(endOfTick);
    }
  }

  // A stream's message leaves at once when its producer is slow (a message the caller waits for,
  // and one its worker may crash right after), and with a run of others when it is fast.
  let lastMessageAt = 0;
  const messageLeavesNow = () => {
    const now = performance.now();
    const slow = now - lastMessageAt > slowMessageGapMs;
    lastMessageAt = now;
    return slow || ++waiting >= messagesPerWrite;
  };

  return {
    frame: (type, id, body = emptyBody) => queue(type, 0, 0, id, 0, undefined, undefined, undefined, body),
    call: (id, attempt, timeoutMs, method, path, request, blobTable) =>
      queue(FrameType.Call, (blobTable ? FrameFlag.Blobs : 0) | (path ? FrameFlag.MethodPath : 0), attempt, id, timeoutMs, method, path, blobTable, request),
    message: (type, id, message, blobTable) => queue(type, blobTable ? FrameFlag.Blobs : 0, 0, id, 0, undefined, undefined, blobTable, message),
  };
}

const slabBytes = 64 * 1024;
// A burst of frames (64 calls arriving together, their 64 answers) would otherwise leave in one
// write at the end of the tick, and the two processes would take turns: one works through the
// whole burst while the other waits for it. Writing every few frames lets the other side start
// on the first ones, so both work at once. With 64 calls in flight on one worker this took
// airlock from about 100k to 160k calls/s here; 8 frames per write did as well as 12 to 32 and
// better than 4 (each write wakes the other process, which costs some µs on these vCPUs).
const framesPerWrite = 8;
// A stream's messages come in runs (a producer sends what its window allows in one go): a write
// every 8 small ones cost as much as the rest of the stream, one for a whole run of 1024 kept the
// other side idle until it arrived. Server streams of 16-byte messages here: 0.9 µs of CPU per
// message on each side at 8, 0.6 at 64, 0.4 at 256 (the fastest), 0.55 with no limit.
const messagesPerWrite = 256;
// A producer whose messages come further apart than this is slow: writing each at once costs
// it little, and keeping one back would hold it from a caller that waits for it.
const slowMessageGapMs = 0.05;
// Copying a body up to this size into the slab costs less than a writev entry of its own.
const copyLimitBytes = 16 * 1024;
