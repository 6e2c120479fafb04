#!/usr/bin/env node
/**
 * Repairs a defect of postgres.js 3.4.9 (the latest release) in the installed copy, after every install
 * (`postinstall`). Idempotent; fails the install if the driver's text is not the one this was written
 * for, so a driver upgrade makes someone look again instead of silently running unrepaired.
 *
 * The defect: a connection queues small writes behind one `setImmediate` and schedules it only while
 * no immediate is pending. When the socket closes with bytes queued (PostgreSQL terminated the
 * backend right after the driver queued a ROLLBACK or a statement), the close handler cancels the
 * immediate but leaves its handle set and the bytes in the buffer. On reconnect the startup message is
 * appended behind the dead session's bytes and never sent: the connection waits out connect_timeout
 * (CONNECT_TIMEOUT), and so does every later statement handed to it, for good. The close also left the
 * lost statement and its error in place, so the first statement of the new session failed with the old
 * backend's error. Named prepared statements made it frequent: db-connection-reset.test.ts wedged
 * pool connections in 6 of 6 runs without this repair.
 *
 * The repair, in both the ESM and the CommonJS copy: on close and on terminate, drop the queued bytes
 * and the stale handle; on close, once the lost statements are rejected, forget them and their error.
 *
 * A second defect: every new session first asks for PostgreSQL's array types, and nothing awaits that
 * question's promise. A backend terminated the moment its session became ready (the FATAL error in
 * the same read as ReadyForQuery) fails the statement that opened the connection, then the type query
 * is sent on the dying socket and rejected on close: an unhandled rejection, which reaches a process's
 * last-resort handler (and failed a CI run of the reset storm). The repair handles that rejection:
 * the statement it belonged to has already failed or waits for the reconnect, which asks again.
 * db-type-fetch-loss.test.ts stages both timings through a proxy.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const MARK = "/* cartograph: driver repair */";
const VERSION = "3.4.9";

const EDITS = [
  {
    what: "terminate() drops the queued bytes",
    from: "    clearImmediate(nextWriteTimer)\n    if (socket) {",
    to: `    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null ${MARK}\n    if (socket) {`,
  },
  {
    what: "closed() drops the queued bytes",
    from: "    incomings = null\n    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)",
    to: `    incomings = null\n    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null ${MARK}\n    socket.removeListener('data', data)`,
  },
  {
    what: "closed() rejects what was sent on the lost session, also after a socket error, and forgets it",
    from:
      "    if (initial)\n      return reconnect()\n\n" +
      "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    to:
      `    ${MARK}\n` +
      "    const lost = Errors.connection('CONNECTION_CLOSED', options, socket)\n" +
      "    while (sent.length)\n      queryError(sent.shift(), lost)\n" +
      "    query && !initial && queryError(query, lost)\n" +
      "    stream && (stream.destroy(lost), stream = null)\n" +
      "    query = errorResponse = results = null\n" +
      "    result = new Result()\n\n" +
      "    if (initial)\n      return reconnect()\n\n",
  },
  {
    what: "the array-type query of a new session never rejects unawaited",
    from: "        initial.reserve && (initial = null)\n        return fetchArrayTypes()\n",
    to: `        initial.reserve && (initial = null)\n        return fetchArrayTypes().catch(() => {}) ${MARK}\n`,
  },
];

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../node_modules/postgres");
if (!existsSync(path.join(root, "package.json"))) {
  throw new Error(`postgres is not installed at ${root}: nothing to repair, and nothing to run on`);
}
const { version } = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));

for (const file of ["src/connection.js", "cjs/src/connection.js"]) {
  const full = path.join(root, file);
  let text = readFileSync(full, "utf8");
  const marks = text.split(MARK).length - 1;
  if (marks === EDITS.length) continue;
  if (marks !== 0)
    throw new Error(`${full}: partly repaired (${marks} of ${EDITS.length}); reinstall postgres`);
  if (version !== VERSION) {
    throw new Error(
      `postgres ${version} is installed; scripts/patch-postgres-driver.mjs was written for ${VERSION}: ` +
        "check whether the release fixes the stale write buffer on close, then update or drop the repair",
    );
  }
  for (const edit of EDITS) {
    const at = text.indexOf(edit.from);
    if (at < 0 || text.indexOf(edit.from, at + 1) >= 0) {
      throw new Error(`${full}: cannot apply "${edit.what}" (text not found exactly once)`);
    }
    text = text.replace(edit.from, edit.to);
  }
  writeFileSync(full, text);
  console.info(`repaired ${path.relative(process.cwd(), full)} (postgres ${version})`);
}
