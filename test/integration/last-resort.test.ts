/**
 * The last-resort handlers keep the process alive only for a lost PostgreSQL connection, and log and
 * exit (after clean-up) for anything else.
 */
import { describe, expect, inject, it } from "vitest";
import { spawnServer } from "../support/server-process.js";

function run(scenario: string) {
  return spawnServer(
    { LAST_RESORT_CASE: scenario, DATABASE_URL: inject("pgBaseUrl") },
    { entry: "test/support/last-resort-fixture.ts" },
  );
}

describe("last-resort handlers", () => {
  it("log an unawaited connection loss and keep the process alive", async () => {
    const proc = run("connection-loss");
    const exit = await proc.exited;
    const lines = proc.jsonLines();
    expect(exit.code, proc.stdout() + proc.stderr()).toBe(0);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, kind: "unhandledRejection" }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "alive" }));
  });

  it.each([
    ["rejection", "unhandledRejection"],
    ["exception", "uncaughtException"],
  ])("log anything else (%s) as fatal, clean up and exit 1", async (scenario, kind) => {
    const proc = run(scenario);
    const exit = await proc.exited;
    const lines = proc.jsonLines();
    expect(exit.code).toBe(1);
    expect(lines).toContainEqual(expect.objectContaining({ level: 60, kind }));
    expect(lines).toContainEqual(expect.objectContaining({ event: "cleanup" }));
    expect(lines).not.toContainEqual(expect.objectContaining({ event: "alive" }));
  });
});
