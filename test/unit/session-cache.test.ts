/**
 * The session service's per-account cache (session.service.ts): an answer is used for
 * AUTH_CHECK_CACHE_SECONDS, and one older than that is not kept either, so the cache holds the
 * accounts seen lately rather than the last MAX_ACCOUNTS_CACHED ever seen.
 */
import { randomUUID } from "node:crypto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ServiceDeps } from "../../src/services/deps.js";
import { MAX_ACCOUNTS_CACHED, SessionService } from "../../src/services/session.service.js";

const STORE = randomUUID();

/** A SessionService whose tokens name the customer they are and whose database counts lookups. */
function service(
  ttlSeconds: number,
  rows: () => Promise<unknown[]> = async () => [{ epoch: 0, email: "a@b.c" }],
) {
  const lookups = { count: 0 };
  const db = {
    select: () => ({
      from: () => ({
        where: () => {
          lookups.count += 1;
          return rows();
        },
      }),
    }),
  };
  const tokens = {
    verifyToken: async (token: string) => ({
      caller: { kind: "customer", customerId: token, email: "a@b.c" },
      store: STORE,
      sessionEpoch: 0,
      expiresAt: Date.now() / 1000 + 3600,
    }),
  };
  const deps = { db, tokens, config: { AUTH_CHECK_CACHE_SECONDS: ttlSeconds } } as unknown as ServiceDeps;
  const sessions = new SessionService(deps);
  const cached = () => (sessions as unknown as { accounts: Map<string, unknown> }).accounts.size;
  return { sessions, lookups, cached };
}

describe("SessionService account cache", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-12-02T00:00:00Z"));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("answers from the cache within AUTH_CHECK_CACHE_SECONDS, and asks again after", async () => {
    const { sessions, lookups } = service(5);
    await sessions.callerFor("customer-1", STORE);
    await sessions.callerFor("customer-1", STORE);
    expect(lookups.count).toBe(1);
    vi.advanceTimersByTime(5_001);
    await sessions.callerFor("customer-1", STORE);
    expect(lookups.count).toBe(2);
  });

  it("drops answers older than AUTH_CHECK_CACHE_SECONDS instead of keeping them until the cap", async () => {
    const { sessions, cached } = service(5);
    for (let i = 0; i < 500; i++) await sessions.callerFor(`customer-${i}`, STORE);
    expect(cached()).toBe(500);
    vi.advanceTimersByTime(6_000);
    await sessions.callerFor("customer-new", STORE);
    // Only the one answer still worth anything.
    expect(cached()).toBe(1);
  });

  it("holds at most MAX_ACCOUNTS_CACHED answers", async () => {
    const { sessions, cached } = service(300);
    for (let i = 0; i < MAX_ACCOUNTS_CACHED + 50; i++) await sessions.callerFor(`customer-${i}`, STORE);
    expect(cached()).toBe(MAX_ACCOUNTS_CACHED);
  });

  it("a failed lookup is forgotten, but not a newer answer for the same account", async () => {
    let fail: (e: Error) => void = () => {};
    const failing = new Promise<unknown[]>((_, reject) => {
      fail = reject;
    });
    let calls = 0;
    const { sessions, cached } = service(5, () =>
      calls++ === 0 ? failing : Promise.resolve([{ epoch: 0, email: "a@b.c" }]),
    );
    const first = sessions.callerFor("customer-1", STORE);
    // Its lookup is under way before the sign-in below asks (else the sign-in would get the failing one).
    while (calls === 0) await new Promise((r) => setImmediate(r));
    // A sign-in meanwhile reads the account afresh (epochOf) and caches that answer.
    await sessions.epochOf(STORE, { kind: "customer", customerId: "customer-1", email: "a@b.c" });
    fail(new Error("connection reset"));
    await expect(first).rejects.toThrow("connection reset");
    expect(cached()).toBe(1);
  });
});
