/** A mistake in how the CLI was called: reported with the usage text, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A step that failed for a reason already explained to the user: exit code 1. */
export class CommandFailed extends Error {
  override readonly name = "CommandFailed";
}
