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
  else throw new Error(`raw socket worker: unknown operation ${op}`);
});
socket.on("data", read);
socket.on("end", () => process.exit(0));
socket.on("error", () => process.exit(0));
write(Op.Ready, Buffer.alloc(0));
