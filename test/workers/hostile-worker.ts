// A worker that turns hostile on request: an Echo whose text starts with "attack" makes it
// write the request's bytes to the control channel as they are, in place of an answer. In
// those bytes, 0xAAAAAAAA stands for the live call id and 0xBBBBBBBB for the worker's real
// result-arena generation, so that attacks also get past the first checks.
import { Socket } from "node:net";
import { serve } from "airlock";
import { TestServiceDefinition } from "../gen/airlock/test/v1/test_airlock.js";

const channel = (process as unknown as { _getActiveHandles(): unknown[] })
  ._getActiveHandles()
  .find((handle): handle is Socket => handle instanceof Socket && (handle as unknown as { _handle?: { fd?: number } })._handle?.fd === 3);
const running = (globalThis as Record<symbol, { running: { ids(): number[] } }>)[Symbol.for("airlock.worker.host")]!.running;
const generation = Number((process.env.AIRLOCK_RESULT_ARENA ?? "0:0:0").split(":")[2]);

function substitute(bytes: Uint8Array, marker: number, value: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i + 4 <= out.length; i++) if (out.readUInt32LE(i) === marker) out.writeUInt32LE(value >>> 0, i);
  return out;
}

serve(TestServiceDefinition, {
  async echo(request) {
    if (!request.text.startsWith("attack")) return { text: request.text, data: request.data, pid: process.pid };
    // Once the handler has returned its promise, the call is among the running ones.
    await null;
    const id = running.ids().at(-1) ?? 0;
    channel!.write(substitute(substitute(request.data, 0xaaaaaaaa, id), 0xbbbbbbbb, generation));
    return new Promise<never>(() => undefined);
  },
});
