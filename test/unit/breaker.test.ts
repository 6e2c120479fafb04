import { describe, expect, it } from "vitest";
import { CircuitBreaker, CircuitOpenError } from "../../src/infra/breaker.js";
import type { BreakerState } from "../../src/infra/types.js";

class Unavailable extends Error {}
class BadCommand extends Error {}

function setup(openMs = 1_000) {
  let now = 0;
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker({
    openMs,
    isFailure: (e) => e instanceof Unavailable,
    onStateChange: (s) => changes.push(s),
    now: () => now,
  });
  return {
    breaker,
    changes,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const ok = async () => "ok";
const down = async () => {
  throw new Unavailable("timeout");
};
/** An operation that stays pending until released, to hold a probe in flight. */
function held() {
  let release: (fail: boolean) => void = () => undefined;
  const op = () =>
    new Promise<string>((resolve, reject) => {
      release = (fail) => (fail ? reject(new Unavailable("timeout")) : resolve("ok"));
    });
  return { op, release: (fail: boolean) => release(fail) };
}

describe("CircuitBreaker", () => {
  it("passes calls through while closed", async () => {
    const { breaker } = setup();
    expect(await breaker.call(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
  });

  it("opens on one failure and then refuses at once without calling", async () => {
    const { breaker, changes } = setup();
    await expect(breaker.call(down)).rejects.toThrow(Unavailable);
    expect(breaker.state).toBe("open");
    let called = false;
    await expect(
      breaker.call(async () => {
        called = true;
      }),
    ).rejects.toThrow(CircuitOpenError);
    expect(called).toBe(false);
    expect(changes).toEqual(["open"]);
  });

  it("does not open on errors that mean Redis answered", async () => {
    const { breaker } = setup();
    await expect(
      breaker.call(async () => {
        throw new BadCommand("WRONGTYPE");
      }),
    ).rejects.toThrow(BadCommand);
    expect(breaker.state).toBe("closed");
  });

  it("after the window lets exactly one probe through; success closes", async () => {
    const { breaker, advance, changes } = setup();
    await expect(breaker.call(down)).rejects.toThrow();
    advance(999);
    await expect(breaker.call(ok)).rejects.toThrow(CircuitOpenError);
    advance(1);
    expect(breaker.state).toBe("half-open");
    const probe = held();
    const probing = breaker.call(probe.op);
    await expect(breaker.call(ok)).rejects.toThrow(CircuitOpenError);
    expect(breaker.state).toBe("half-open");
    probe.release(false);
    expect(await probing).toBe("ok");
    expect(breaker.state).toBe("closed");
    expect(await breaker.call(ok)).toBe("ok");
    expect(changes).toEqual(["open", "closed"]);
  });

  it("a failed probe opens it for another full window", async () => {
    const { breaker, advance, changes } = setup();
    await expect(breaker.call(down)).rejects.toThrow();
    advance(1_000);
    await expect(breaker.call(down)).rejects.toThrow(Unavailable);
    expect(breaker.state).toBe("open");
    advance(999);
    await expect(breaker.call(ok)).rejects.toThrow(CircuitOpenError);
    advance(1);
    expect(await breaker.call(ok)).toBe("ok");
    expect(changes).toEqual(["open", "open", "closed"]);
  });

  it("a call admitted before the circuit opened cannot close it by succeeding late", async () => {
    const { breaker } = setup();
    const straggler = held();
    const late = breaker.call(straggler.op);
    await expect(breaker.call(down)).rejects.toThrow();
    straggler.release(false);
    await late;
    expect(breaker.state).toBe("open");
  });

  it("late failures of calls admitted while closed push the window back", async () => {
    const { breaker, advance, changes } = setup();
    const straggler = held();
    const late = breaker.call(straggler.op);
    await expect(breaker.call(down)).rejects.toThrow();
    advance(600);
    straggler.release(true);
    await expect(late).rejects.toThrow(Unavailable);
    advance(600);
    expect(breaker.state).toBe("open");
    advance(400);
    expect(breaker.state).toBe("half-open");
    expect(changes).toEqual(["open"]);
  });

  it("openMs 0 disables it: every call goes through, failures included", async () => {
    const { breaker } = setup(0);
    expect(breaker.enabled).toBe(false);
    await expect(breaker.call(down)).rejects.toThrow(Unavailable);
    await expect(breaker.call(down)).rejects.toThrow(Unavailable);
    expect(await breaker.call(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
  });
});
