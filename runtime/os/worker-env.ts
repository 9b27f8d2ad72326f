/** Environment variables through which a pool tells its worker processes how to reach it. */
export const workerEnv = {
  /** File descriptor of the control channel in the worker. */
  channelFd: "AIRLOCK_CHANNEL_FD",
  /** Pid of the parent, to detect that it died before the parent-death signal was armed. */
  parentPid: "AIRLOCK_PARENT_PID",
  /** Largest frame either side accepts. */
  maxFrameBytes: "AIRLOCK_MAX_FRAME_BYTES",
  /** "fd:size" of the argument arena, read-only in the worker; unset when blobs are off. */
  argumentArena: "AIRLOCK_ARGUMENT_ARENA",
  /** "fd:size:generation" of the worker's own result arena. */
  resultArena: "AIRLOCK_RESULT_ARENA",
  /** Bytes values at least this long go back to the parent as blobs. */
  blobThreshold: "AIRLOCK_BLOB_THRESHOLD",
  /** "messages:bytes" of each stream's window, both ways. */
  streamWindow: "AIRLOCK_STREAM_WINDOW",
  /** The native addon's file, as the parent found it. */
  nativeAddon: "AIRLOCK_NATIVE_ADDON",
} as const;

/** Exit codes by which a worker process tells its parent why it left. */
export const workerExitCodes = {
  /** Its control channel was closed from inside the worker: it could not answer any more. */
  channelClosedInside: 71,
} as const;
