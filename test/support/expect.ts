import { AirlockError } from "airlock";

/** Awaits a promise that must reject with an AirlockError, and returns that error. */
export async function rejection(promise: Promise<unknown>): Promise<AirlockError> {
  const error = await promise.then(
    () => new Error("expected the promise to reject, but it resolved"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AirlockError);
  return error as AirlockError;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
