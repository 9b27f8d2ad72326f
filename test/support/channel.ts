// A test worker's own end of its control channel, reached as a hostile or broken library in
// the worker could reach it.
import { Socket } from "node:net";

/** The worker's control channel socket (fd 3). */
export function channelSocket(): Socket {
  const fd = Number(process.env.AIRLOCK_CHANNEL_FD ?? 3);
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
  const socket = handles.find((handle) => handle instanceof Socket && (handle as unknown as { _handle?: { fd?: number } })._handle?.fd === fd);
  if (!socket) throw new Error("control channel socket not found");
  return socket as Socket;
}

/** The ids of the calls the worker runs now (unary calls once async, and streams), oldest first. */
export function runningCallIds(): number[] {
  return (globalThis as Record<symbol, { running: { ids(): number[] } }>)[Symbol.for("airlock.worker.host")]!.running.ids();
}

/** `bytes` with every little-endian u32 `marker` replaced by `value`. */
export function substitute(bytes: Uint8Array, marker: number, value: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i + 4 <= out.length; i++) if (out.readUInt32LE(i) === marker) out.writeUInt32LE(value >>> 0, i);
  return out;
}
