/** Environment variables through which a pool tells its worker processes how to reach it. */
export const workerEnv = {
  /** File descriptor of the control channel in the worker. */
  channelFd: "AIRLOCK_CHANNEL_FD",
  /** Pid of the parent, to detect that it died before the parent-death signal was armed. */
  parentPid: "AIRLOCK_PARENT_PID",
  /** Largest frame either side accepts. */
  maxFrameBytes: "AIRLOCK_MAX_FRAME_BYTES",
} as const;
