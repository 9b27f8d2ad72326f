// The child_process.fork peers' worker: answers each IPC message. With `json` serialization the
// bytes travel as base64 strings (decoded to a Buffer here, as a real handler needs them); with
// `advanced` (the V8 serializer) as Buffers.
import { asBuffer, pattern } from "./work.js";

interface Request {
  readonly id: number;
  readonly op: "echo" | "sink" | "fill";
  readonly data?: string | Uint8Array;
  readonly size?: number;
}

const json = process.argv[2] === "json";
const decode = (data: string | Uint8Array): Buffer => (typeof data === "string" ? Buffer.from(data, "base64") : asBuffer(data));
const encode = (bytes: Buffer): string | Buffer => (json ? bytes.toString("base64") : bytes);

process.on("message", (message: Request) => {
  let reply: unknown;
  if (message.op === "echo") reply = { id: message.id, data: encode(decode(message.data!)) };
  else if (message.op === "sink") reply = { id: message.id, size: decode(message.data!).length };
  else reply = { id: message.id, data: encode(pattern(message.size!)) };
  process.send!(reply);
});
process.on("disconnect", () => process.exit(0));
process.send!({ ready: true });
