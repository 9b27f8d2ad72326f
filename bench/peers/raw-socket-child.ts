// The raw socket peer's worker: reads frames from fd 3 (a Unix socketpair made at spawn, as
// airlock's workers do) and answers each in order.
import { Socket } from "node:net";
import { frameReader, frameWriter, Op, u32 } from "./raw-frames.js";
import { pattern } from "./work.js";

const socket = new Socket({ fd: 3, readable: true, writable: true });
const write = frameWriter(socket);
const read = frameReader((op, body) => {
  if (op === Op.Echo) write(Op.Echo, body);
  else if (op === Op.Sink) write(Op.Sink, u32(body.length));
  else if (op === Op.Fill) write(Op.Fill, pattern(body.readUInt32LE(0)));
  else if (op === Op.Stream) void stream(body.readUInt32LE(0), pattern(body.readUInt32LE(4)));
  else throw new Error(`raw socket worker: unknown operation ${op}`);
});
// `count` frames of `body`, as fast as the socket takes them: the floor of a server stream, with
// no flow control but the socket's own, written 256 frames at a time as airlock writes a
// stream's messages.
async function stream(count: number, body: Buffer): Promise<void> {
  const frame = Buffer.allocUnsafe(5 + body.length);
  frame.writeUInt32LE(1 + body.length, 0);
  frame[4] = Op.Stream;
  body.copy(frame, 5);
  for (let sent = 0; sent < count; ) {
    const run = Math.min(256, count - sent);
    socket.write(Buffer.concat(Array.from({ length: run }, () => frame)));
    sent += run;
    await new Promise((resolve) => (socket.writableNeedDrain ? socket.once("drain", resolve) : setImmediate(resolve)));
  }
}

socket.on("data", read);
socket.on("end", () => process.exit(0));
socket.on("error", () => process.exit(0));
write(Op.Ready, Buffer.alloc(0));
