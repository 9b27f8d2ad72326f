/**
 * Credit-based flow control of one direction of a stream, the same whichever side sends. The
 * receiver takes at most a window of messages and of bytes that it has not yet consumed: the
 * sender sends while what it has sent and not had credited back is under both limits (one
 * message always passes, however large, so that no message is too big to send), and the
 * receiver credits what its consumer has taken. A message's size is its protobuf bytes plus
 * its blobs' bytes, which both sides count alike.
 */

/** The limits of a stream's window in one direction. */
export interface WindowLimits {
  /** Messages sent and not yet consumed. */
  readonly messages: number;
  /** Bytes of those messages; the last one sent may pass it. */
  readonly bytes: number;
}

/** The sender's side: what is in flight, and whether another message may go. */
export class SendWindow {
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;

  constructor(readonly limits: WindowLimits) {}

  /** Whether the receiver has room for one more message. */
  get open(): boolean {
    const inFlight = this.#sizes.length - this.#head;
    return inFlight === 0 || (inFlight < this.limits.messages && this.#bytes < this.limits.bytes);
  }

  /** Counts a message of `size` bytes sent. */
  sent(size: number): void {
    this.#sizes.push(size);
    this.#bytes += size;
  }

  /** Takes the receiver's credit for `messages` consumed; false when it credits more than was sent (a broken receiver). */
  credited(messages: number): boolean {
    if (!Number.isInteger(messages) || messages < 0 || messages > this.#sizes.length - this.#head) return false;
    for (const end = this.#head + messages; this.#head < end; this.#head += 1) this.#bytes -= this.#sizes[this.#head]!;
    if (this.#head === this.#sizes.length) {
      this.#sizes.length = 0;
      this.#head = 0;
    }
    return true;
  }
}

/** The receiver's side: whether the sender kept to the window, and when to credit it. */
export class ReceiveWindow {
  #unconsumed = 0;
  #unconsumedBytes = 0;
  #consumed = 0;
  #consumedBytes = 0;

  constructor(readonly limits: WindowLimits) {}

  /** Counts a message arrived; false when the sender went past the window (a broken sender). */
  arrived(size: number): boolean {
    this.#unconsumed += 1;
    this.#unconsumedBytes += size;
    return this.#unconsumed <= this.limits.messages && this.#unconsumedBytes - size < this.limits.bytes;
  }

  /**
   * Counts a message consumed; returns the messages to credit the sender now, or 0. Credit goes
   * out in batches of a quarter of the window, and whenever the consumer has taken all there
   * was: a sender held by the window then always hears back.
   */
  consumed(size: number, drained: boolean): number {
    this.#unconsumed -= 1;
    this.#unconsumedBytes -= size;
    this.#consumed += 1;
    this.#consumedBytes += size;
    if (!drained && this.#consumed * 4 < this.limits.messages && this.#consumedBytes * 4 < this.limits.bytes) return 0;
    const credit = this.#consumed;
    this.#consumed = 0;
    this.#consumedBytes = 0;
    return credit;
  }
}
