/**
 * Human log lines for a terminal: `12:00:01.234 INFO  ready  port=4000 ms=812`. It formats the JSON
 * lines pino produces (already serialized and scrubbed), so both formats say exactly the same things.
 */
const LEVELS: Record<number, string> = {
  10: "TRACE",
  20: "DEBUG",
  30: "INFO ",
  40: "WARN ",
  50: "ERROR",
  60: "FATAL",
};
/** Shown by the line itself (time, level, message), the same on every line (service), or for machines (event). */
const HIDDEN = new Set(["level", "time", "msg", "service", "pid", "hostname", "event"]);

export function createPrettyStream(out: { write(text: string): unknown }): { write(line: string): boolean } {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) {
        if (line.trim() !== "") out.write(`${formatLine(line)}\n`);
      }
      return true;
    },
  };
}

export function formatLine(line: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const time = typeof record.time === "string" ? record.time.slice(11, 23) : "";
  const level = LEVELS[Number(record.level)] ?? String(record.level);
  const fields: string[] = [];
  let stack = "";
  for (const [key, value] of Object.entries(record)) {
    if (HIDDEN.has(key) || value === undefined) continue;
    if (key === "err" && value && typeof value === "object") {
      const err = value as { type?: string; message?: string; stack?: string };
      fields.push(`err=${err.type ?? "Error"}: ${err.message ?? ""}`.replace(/\n/g, " "));
      const frames = (err.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
      if (frames.length) stack = `\n${frames.map((l) => `    ${l.trim()}`).join("\n")}`;
      continue;
    }
    fields.push(`${key}=${formatValue(value)}`);
  }
  const msg = typeof record.msg === "string" ? record.msg : "";
  return `${time} ${level} ${msg}${fields.length ? `  ${fields.join(" ")}` : ""}${stack}`;
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value);
}
