/**
 * The control channel's wire format: length-prefixed binary frames, little-endian.
 *
 *   0  u32  size of the frame after this field
 *   4  u8   type (FrameType)
 *   5  u8   flags: FrameFlag.Blobs when the body carries a blob table
 *   6  u16  attempt number (Call), else 0
 *   8  u32  call id, matching replies to calls; 0 for frames about the worker itself
 *   12 u32  time left to the call's deadline in ms (Call), 0 for none
 *   16      body: for Call, u16 method path length + UTF-8 path + protobuf request;
 *           for Reply the protobuf reply; for Error, Ready and StartFailed a JSON object;
 *           empty for Cancel, Release, Ping and Pong. With FrameFlag.Blobs, the protobuf
 *           bytes of a Call or Reply are preceded by u32 table length + a blob table.
 *
 * The header is fixed so that a reader never parses text to find where a frame ends, and the
 * deadline travels as time left so that the two processes need not agree on clocks.
 */
import type { Socket } from "node:net";
import { Code } from "./code.js";
import { AirlockError } from "./errors.js";

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
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const headerSize = 16;
const sizeFieldSize = 4;
const maxFrameType = FrameType.Release;

/** Bits of the header's flags byte. */
export const FrameFlag = {
  Blobs: 1,
} as const;

/** One decoded frame; `body` is a view into the bytes read, not a copy. */
export interface Frame {
  readonly type: FrameType;
  readonly flags: number;
  readonly attempt: number;
  readonly id: number;
  readonly timeoutMs: number;
  readonly body: Buffer;
}

/** The error for bytes on the channel that cannot be a frame: the peer that sent them is broken. */
function frameError(message: string): AirlockError {
  return new AirlockError(Code.Protocol, message);
}

/**
 * Encodes a call: the method path is passed pre-encoded because it is the same for every call;
 * `blobTable` is passed when some request bytes travel in shared memory.
 */
export function encodeCall(id: number, attempt: number, timeoutMs: number, path: Buffer, request: Uint8Array, blobTable?: Buffer): Buffer {
  const tableBytes = blobTable ? 4 + blobTable.length : 0;
  const frame = Buffer.allocUnsafe(headerSize + 2 + path.length + tableBytes + request.length);
  writeHeader(frame, FrameType.Call, attempt, id, timeoutMs, blobTable ? FrameFlag.Blobs : 0);
  frame.writeUInt16LE(path.length, headerSize);
  path.copy(frame, headerSize + 2);
  if (blobTable) writeTable(frame, headerSize + 2 + path.length, blobTable);
  frame.set(request, headerSize + 2 + path.length + tableBytes);
  return frame;
}

/** Encodes a reply, with its blob table when some reply bytes travel in shared memory. */
export function encodeReply(id: number, reply: Uint8Array, blobTable?: Buffer): Buffer {
  if (!blobTable) return encodeFrame(FrameType.Reply, id, reply);
  const frame = Buffer.allocUnsafe(headerSize + 4 + blobTable.length + reply.length);
  writeHeader(frame, FrameType.Reply, 0, id, 0, FrameFlag.Blobs);
  writeTable(frame, headerSize, blobTable);
  frame.set(reply, headerSize + 4 + blobTable.length);
  return frame;
}

/** Encodes any frame other than a call or a reply. */
export function encodeFrame(type: FrameType, id: number, body: Uint8Array = emptyBody): Buffer {
  const frame = Buffer.allocUnsafe(headerSize + body.length);
  writeHeader(frame, type, 0, id, 0, 0);
  frame.set(body, headerSize);
  return frame;
}

/** Splits a reply's body into its blob table (if flagged) and protobuf bytes. */
export function decodeReplyBody(frame: Frame): { reply: Buffer; blobTable: Buffer | undefined } {
  if (!(frame.flags & FrameFlag.Blobs)) return { reply: frame.body, blobTable: undefined };
  const { table, rest } = readTable(frame.body, 0);
  return { reply: rest, blobTable: table };
}

/** Encodes a frame whose body is a JSON object (errors and lifecycle messages, never hot). */
export function encodeJsonFrame(type: FrameType, id: number, value: unknown): Buffer {
  return encodeFrame(type, id, Buffer.from(JSON.stringify(value), "utf8"));
}

/** Splits a call's body into its method path, blob table (if flagged) and request bytes. */
export function decodeCallBody(frame: Frame): { path: string; request: Buffer; blobTable: Buffer | undefined } {
  const { body } = frame;
  if (body.length < 2) throw frameError("call frame too short for its method path length");
  const pathLength = body.readUInt16LE(0);
  if (body.length < 2 + pathLength) throw frameError("call frame shorter than its method path");
  const path = body.toString("utf8", 2, 2 + pathLength);
  if (!(frame.flags & FrameFlag.Blobs)) return { path, request: body.subarray(2 + pathLength), blobTable: undefined };
  const { table, rest } = readTable(body, 2 + pathLength);
  return { path, request: rest, blobTable: table };
}

function writeTable(frame: Buffer, at: number, table: Buffer): void {
  frame.writeUInt32LE(table.length, at);
  table.copy(frame, at + 4);
}

function readTable(body: Buffer, at: number): { table: Buffer; rest: Buffer } {
  if (body.length < at + 4) throw frameError("frame too short for its blob table length");
  const length = body.readUInt32LE(at);
  if (body.length < at + 4 + length) throw frameError("frame shorter than its blob table");
  return { table: body.subarray(at + 4, at + 4 + length), rest: body.subarray(at + 4 + length) };
}

/** Parses a JSON body into an object, or throws a PROTOCOL AirlockError. */
export function decodeJsonBody(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString("utf8"));
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
 * complete frame and throws a PROTOCOL AirlockError on bytes that cannot be a frame. A frame that arrived
 * in one chunk is handed on without copying; one split across chunks is joined once.
 */
export function createFrameReader(onFrame: (frame: Frame) => void, maxFrameBytes: number): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  let buffered = 0;
  return (chunk) => {
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= sizeFieldSize) {
      if (chunks[0]!.length < sizeFieldSize) chunks = [Buffer.concat(chunks, buffered)];
      const first = chunks[0]!;
      const size = first.readUInt32LE(0);
      if (size < headerSize - sizeFieldSize || size > maxFrameBytes) {
        throw frameError(`frame size ${size} is outside [${headerSize - sizeFieldSize}, ${maxFrameBytes}]`);
      }
      const total = sizeFieldSize + size;
      if (buffered < total) return;
      let bytes: Buffer;
      if (first.length >= total) {
        bytes = first.subarray(0, total);
        if (first.length === total) chunks.shift();
        else chunks[0] = first.subarray(total);
      } else {
        const joined = Buffer.concat(chunks, buffered);
        bytes = joined.subarray(0, total);
        chunks = joined.length > total ? [joined.subarray(total)] : [];
      }
      buffered -= total;
      onFrame(decodeFrame(bytes));
    }
  };
}

function decodeFrame(bytes: Buffer): Frame {
  const type = bytes.readUInt8(4);
  if (type < FrameType.Call || type > maxFrameType) throw frameError(`unknown frame type ${type}`);
  return {
    type: type as FrameType,
    flags: bytes.readUInt8(5),
    attempt: bytes.readUInt16LE(6),
    id: bytes.readUInt32LE(8),
    timeoutMs: bytes.readUInt32LE(12),
    body: bytes.subarray(headerSize),
  };
}

function writeHeader(frame: Buffer, type: FrameType, attempt: number, id: number, timeoutMs: number, flags: number): void {
  frame.writeUInt32LE(frame.length - sizeFieldSize, 0);
  frame.writeUInt8(type, 4);
  frame.writeUInt8(flags, 5);
  frame.writeUInt16LE(Math.min(attempt, 0xffff), 6);
  frame.writeUInt32LE(id >>> 0, 8);
  frame.writeUInt32LE(Math.min(Math.max(0, Math.ceil(timeoutMs)), 0xffffffff), 12);
}

const emptyBody = new Uint8Array(0);

/**
 * Returns a function that queues a frame on the socket. Frames queued in the same tick leave
 * in one write: small ones joined into one buffer (cheaper than the stream's writev path),
 * a tick with large ones as a corked writev, so large frames are never copied.
 */
export function createFrameWriter(socket: Socket): (frame: Buffer) => void {
  let queued: Buffer[] = [];
  let queuedBytes = 0;
  const flush = () => {
    const frames = queued;
    const bytes = queuedBytes;
    queued = [];
    queuedBytes = 0;
    if (frames.length === 1) socket.write(frames[0]!);
    else if (bytes <= joinLimitBytes) socket.write(Buffer.concat(frames, bytes));
    else {
      socket.cork();
      for (const frame of frames) socket.write(frame);
      socket.uncork();
    }
  };
  return (frame) => {
    if (queued.length === 0) process.nextTick(flush);
    queued.push(frame);
    queuedBytes += frame.length;
  };
}

const joinLimitBytes = 64 * 1024;
