import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisTimeoutError, withDeadline } from "../../src/infra/redis-connection.js";

/** Blocks the event loop, as a long synchronous task or a GC pause would. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("withDeadline", () => {
  // A loopback echo server in another process (it must answer while this one is blocked): its reply
  // is real socket input, read in the event loop's poll phase.
  let server: ChildProcess;
  let client: Socket;
  beforeAll(async () => {
    server = spawn(
      process.execPath,
      [
        "-e",
        `const s = require("node:net").createServer((c) => c.on("data", (d) => c.write(d)));
         s.listen(0, "127.0.0.1", () => console.log(s.address().port));`,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const [line] = await once(server.stdout!, "data");
    client = connect(Number(String(line).trim()), "127.0.0.1");
    await once(client, "connect");
  });
  afterAll(() => {
    client?.destroy();
    server?.kill();
  });

  const echo = () => {
    const reply = once(client, "data").then(([d]) => String(d));
    client.write("ping");
    return reply;
  };

  it("passes a reply through, and rejects one that does not come in time", async () => {
    expect(await withDeadline(echo(), 1_000)).toBe("ping");
    await expect(withDeadline(new Promise(() => undefined), 20)).rejects.toThrow(RedisTimeoutError);
  });

  it("does not call a reply that arrived while the event loop was blocked a timeout", async () => {
    // The echo comes back within a millisecond, but this process is busy for 200 ms: when its loop
    // runs again the deadline has passed and the reply is waiting in the socket. (Blocked in the
    // check phase, so that the loop's next step is the timers, then the socket read.)
    const { answer } = await new Promise<{ answer: Promise<string> }>((resolve) =>
      setImmediate(() => {
        const answer = withDeadline(echo(), 50);
        busyFor(200);
        resolve({ answer });
      }),
    );
    await expect(answer).resolves.toBe("ping");
  });

  it("passes errors through", async () => {
    await expect(withDeadline(Promise.reject(new Error("boom")), 1_000)).rejects.toThrow("boom");
  });
});
