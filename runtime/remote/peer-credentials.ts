import type { Socket } from "node:net";
import { nativeAddon } from "../os/native.js";

/** The process at the other end of a Unix-socket connection, as the kernel recorded it when it connected. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** Who may call a pool server on a Unix socket: a peer whose uid or (effective, primary) gid is listed. */
export interface PeerPolicy {
  readonly allowUids: readonly number[];
  readonly allowGids: readonly number[];
}

/** The policy for the uids and gids configured; with neither, the server's own uid alone. */
export function peerPolicy(allowUids: readonly number[] = [], allowGids: readonly number[] = []): PeerPolicy {
  if (allowUids.length === 0 && allowGids.length === 0) return { allowUids: [process.getuid!()], allowGids: [] };
  return { allowUids, allowGids };
}

/** Whether `peer` may call; a peer whose credentials could not be read may not. */
export function isAllowed(peer: PeerCredentials | undefined, policy: PeerPolicy): boolean {
  return peer !== undefined && (policy.allowUids.includes(peer.uid) || policy.allowGids.includes(peer.gid));
}

/** The credentials of the peer of an accepted Unix-socket connection, or undefined when they cannot be read (the socket is gone). */
export function peerCredentialsOf(socket: Socket): PeerCredentials | undefined {
  // Node gives no public way to an accepted socket's descriptor; its handle holds it.
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    return nativeAddon().peerCredentials(fd);
  } catch {
    return undefined;
  }
}
