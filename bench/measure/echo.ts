// The one check every echo the harness makes goes through, whatever the phase.
import type { Contender } from "../contender.js";

/** The bytes in `reply`, a reply of `contender.call`. */
export function echoedBytes(contender: Contender, reply: unknown): Buffer {
  const bytes = (contender.echoed ? contender.echoed(reply) : reply) as Uint8Array;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Throws unless `reply`, a reply of `contender.call(payload)`, holds exactly the bytes of `payload`. */
export function checkEcho(contender: Contender, payload: Buffer, reply: unknown): void {
  const bytes = echoedBytes(contender, reply);
  if (!bytes.equals(payload)) throw new Error(`${contender.name}: echo of ${payload.length} bytes came back different (${bytes.length} bytes)`);
}
