/**
 * The one logger factory. Output is JSON lines (machines) or human lines (a terminal), never a mix,
 * and no log line carries SQL parameter values: the serializers below are the one home of that rule.
 */
import pino from "pino";
import { createPrettyStream } from "./logger-pretty.js";

export type Logger = pino.Logger;
export type LogFormat = "json" | "pretty";

export interface LoggerOptions {
  /** Default `json`. */
  format?: LogFormat;
  /** Where lines go (default stdout); tests capture them here. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(level: string, opts: LoggerOptions = {}): Logger {
  // Synchronous writes to stdout: a line logged just before process.exit() is never lost.
  const out = opts.destination ?? pino.destination({ dest: 1, sync: true });
  const destination = opts.format === "pretty" ? createPrettyStream(out) : (out as pino.DestinationStream);
  return pino(
    {
      level,
      base: { service: "cartograph" },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError, error: serializeError, msg: scrubText },
      formatters: {
        // Errors under any key, not only `err`, go through the same serializer.
        log: (record) => {
          for (const [key, value] of Object.entries(record)) {
            if (value instanceof Error) record[key] = serializeError(value);
          }
          return record;
        },
      },
    },
    destination,
  );
}

/** LOG_FORMAT when set, else human lines on a terminal and JSON otherwise. */
export function resolveLogFormat(value: string | undefined, stdoutIsTTY: boolean): LogFormat {
  if (value === "json" || value === "pretty") return value;
  return stdoutIsTTY ? "pretty" : "json";
}

// ---- no SQL parameter values in logs ----

/**
 * Properties through which errors carry bound values: postgres.js sets `parameters`, `args` (and
 * `types`) on every query error, enumerable when its `debug` option is on; drizzle's DrizzleQueryError
 * has `params`. They are never logged; `query` (the statement text, with $1 placeholders) is kept.
 */
const VALUE_CARRIERS = new Set(["parameters", "params", "args", "types"]);
const REDACTED = "[redacted]";
const MAX_CAUSE_DEPTH = 5;

/**
 * Scrubs bound values out of error text:
 * - drizzle's message `Failed query: <sql>\nparams: <values>`;
 * - PostgreSQL echoing an input back: `invalid input syntax for type integer: "<value>"`,
 *   `value "<value>" is out of range for type integer`, `... for encoding "UTF8": 0x00`;
 * - constraint details: `Key (email)=(<value>) already exists.`, `Failing row contains (<values>).`
 */
export function scrubText(text: unknown): unknown {
  if (typeof text !== "string") return text;
  return text
    .replace(/(\nparams: )[\s\S]*?(?=\n {4}at |$)/g, `$1${REDACTED}`)
    .replace(/: "[^\n]*"(?=\s*$|\n)/gm, `: "${REDACTED}"`)
    .replace(/value "[^\n]*?" is out of range/g, `value "${REDACTED}" is out of range`)
    .replace(/(: )0x[0-9a-f]{2}( 0x[0-9a-f]{2})*/g, `$1${REDACTED}`)
    .replace(/(Key \([^)]*\)=\()[^\n]*\)(?= |\.|$)/g, `$1${REDACTED})`)
    .replace(/(Failing row contains \()[^\n]*\)/g, `$1${REDACTED})`);
}

interface SerializedError {
  type: string;
  message: unknown;
  stack: unknown;
  [key: string]: unknown;
}

/** pino's `err` serializer, minus bound values, through the whole `cause` chain. */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) return err;
  const out: SerializedError = {
    type: err.constructor?.name || err.name,
    message: scrubText(err.message),
    stack: scrubText(err.stack),
  };
  for (const [key, value] of Object.entries(err)) {
    if (VALUE_CARRIERS.has(key) || key in out || key === "cause") continue;
    out[key] =
      value instanceof Error
        ? depth < MAX_CAUSE_DEPTH
          ? serializeError(value, depth + 1)
          : REDACTED
        : scrubText(value);
  }
  // The statement text is worth keeping even when the driver made it non-enumerable (no `debug`).
  const query = (err as { query?: unknown }).query;
  if (typeof query === "string") out.query = query;
  const nested = err as Error & { cause?: unknown; originalError?: unknown; errors?: unknown };
  if (nested.cause !== undefined) {
    out.cause = depth < MAX_CAUSE_DEPTH ? serializeError(nested.cause, depth + 1) : REDACTED;
  }
  if (nested.originalError instanceof Error && !("originalError" in out)) {
    out.originalError = depth < MAX_CAUSE_DEPTH ? serializeError(nested.originalError, depth + 1) : REDACTED;
  }
  if (err instanceof AggregateError && Array.isArray(nested.errors)) {
    out.errors = nested.errors.map((e) => serializeError(e, depth + 1));
  }
  return out;
}
