/**
 * Slows password guessing without handing attackers a way to lock victims out:
 * - per (account, client): a client that keeps trying one account is refused for the window;
 * - per client: a client that sprays many accounts is refused for the window;
 * - per account, from anywhere: past a threshold every further attempt is delayed (growing, capped), so
 *   a distributed guess gets slow while the account's owner, from their own client, still signs in.
 * Every attempt counts, right or wrong, so probing cannot tell which attempts were right. The counters
 * live in the rate limiter, which falls back to an in-process limiter when Redis is unavailable: the
 * throttle fails closed.
 */
import type { Config } from "../config.js";
import type { RateLimiter } from "../infra/types.js";
import type { ServiceContext } from "./context.js";
import { ErrorCode, userError } from "./errors.js";

/** The longest an attempt is held back, however hard its account is being tried. */
const MAX_DELAY_MS = 5_000;
const DELAY_STEP_MS = 250;

export type ThrottleConfig = Pick<
  Config,
  | "SIGN_IN_ATTEMPTS_PER_ACCOUNT_CLIENT"
  | "SIGN_IN_ATTEMPTS_PER_CLIENT"
  | "SIGN_IN_SLOWDOWN_AFTER"
  | "SIGN_IN_WINDOW_SECONDS"
>;

export class SignInThrottle {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: ThrottleConfig,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /**
   * Counts an attempt on `account` (e.g. "customer:ada@example.com") and refuses it (RATE_LIMITED) or
   * delays it before any password is checked.
   */
  async attempt(ctx: ServiceContext, account: string): Promise<void> {
    const window = this.config.SIGN_IN_WINDOW_SECONDS;
    const client = ctx.clientIp ?? "unknown";
    const store = ctx.store.id;
    const perAccountClient = this.config.SIGN_IN_ATTEMPTS_PER_ACCOUNT_CLIENT;
    const perClient = this.config.SIGN_IN_ATTEMPTS_PER_CLIENT;
    const slowAfter = this.config.SIGN_IN_SLOWDOWN_AFTER;
    const [pair, whole, onAccount] = await Promise.all([
      perAccountClient > 0
        ? this.limiter.hit(`signin:ac:${store}:${account}:${client}`, perAccountClient, window)
        : null,
      perClient > 0 ? this.limiter.hit(`signin:c:${store}:${client}`, perClient, window) : null,
      slowAfter > 0 ? this.limiter.hit(`signin:a:${store}:${account}`, slowAfter, window) : null,
    ]);
    const refused = [pair, whole].find((r) => r && !r.allowed);
    if (refused) {
      throw userError(
        ErrorCode.RATE_LIMITED,
        `Too many sign-in attempts from this device; try again in ${refused.resetSeconds} seconds`,
      );
    }
    if (onAccount && !onAccount.allowed) {
      // `remaining` stays 0 past the limit; how far past it is not reported, so the delay grows with
      // the attempts this instance has seen held back, capped.
      await this.sleep(Math.min(MAX_DELAY_MS, DELAY_STEP_MS * (1 + this.heldBack(store, account))));
    }
  }

  private readonly held = new Map<string, { count: number; at: number }>();

  private heldBack(store: string, account: string): number {
    const key = `${store}:${account}`;
    const now = Date.now();
    const entry = this.held.get(key);
    const windowMs = this.config.SIGN_IN_WINDOW_SECONDS * 1000;
    const next =
      entry && now - entry.at < windowMs ? { count: entry.count + 1, at: entry.at } : { count: 0, at: now };
    if (this.held.size > 10_000) this.held.clear();
    this.held.set(key, next);
    return next.count;
  }
}
