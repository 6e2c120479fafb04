/**
 * A circuit breaker in front of Redis, shared by every port of one Infra. Without it, a Redis that stops
 * answering (hung, overloaded, a network black hole) costs every request a full command timeout, often
 * several times per request. After one failure that says "Redis is not answering", calls are refused at
 * once for `openMs` (each port answers in its degraded mode); then a single call goes through as the
 * probe (half-open) while the others are still refused, and its outcome closes or re-opens the circuit.
 */
import type { BreakerState } from "./types.js";

/** Thrown instead of calling Redis while the circuit is open. */
export class CircuitOpenError extends Error {
  constructor() {
    super("redis circuit open: not calling Redis for now");
    this.name = "CircuitOpenError";
  }
}

export interface CircuitBreakerOptions {
  /** How long the circuit stays open after a failure; 0 disables the breaker (every call goes through). */
  openMs: number;
  /** Which errors mean "Redis is unavailable" (timeouts, connection errors) rather than a bad command. */
  isFailure: (err: unknown) => boolean;
  onStateChange?: (state: BreakerState, cause?: unknown) => void;
  now?: () => number;
}

export class CircuitBreaker {
  private openUntil = 0;
  private isOpen = false;
  /** A probe is in flight; outcomes of calls admitted before the circuit opened do not decide the state. */
  private probing = false;
  private readonly now: () => number;

  constructor(private readonly opts: CircuitBreakerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.opts.openMs > 0;
  }

  get state(): BreakerState {
    if (!this.isOpen) return "closed";
    return this.probing || this.now() >= this.openUntil ? "half-open" : "open";
  }

  /** Runs `op` against Redis, or rejects with CircuitOpenError at once while the circuit is open. */
  async call<T>(op: () => Promise<T>): Promise<T> {
    if (!this.enabled) return op();
    let isProbe = false;
    if (this.isOpen) {
      if (this.probing || this.now() < this.openUntil) throw new CircuitOpenError();
      isProbe = true;
      this.probing = true;
    }
    try {
      const result = await op();
      this.succeeded(isProbe);
      return result;
    } catch (err) {
      if (this.opts.isFailure(err)) this.failed(isProbe, err);
      // Redis answered (with an error about the command): it is reachable.
      else this.succeeded(isProbe);
      throw err;
    }
  }

  private succeeded(isProbe: boolean): void {
    // A call admitted while closed may finish after the circuit opened: only the probe may close it.
    if (!this.isOpen || !isProbe) return;
    this.probing = false;
    this.isOpen = false;
    this.opts.onStateChange?.("closed");
  }

  private failed(isProbe: boolean, cause: unknown): void {
    if (this.isOpen && !isProbe) {
      // Stragglers admitted before the circuit opened (they time out together): the window restarts
      // from the last evidence, unless a probe is already deciding; nothing new to announce.
      if (!this.probing) this.openUntil = this.now() + this.opts.openMs;
      return;
    }
    this.probing = false;
    this.isOpen = true;
    this.openUntil = this.now() + this.opts.openMs;
    this.opts.onStateChange?.("open", cause);
  }
}
