/**
 * The driver's settings: CLI flags first, then BENCH_* environment variables, then defaults.
 * DATABASE_URL / REDIS_URL are read as the server reads them (they pick the external mode).
 */
import { parseArgs } from "node:util";

export const SCENARIO_NAMES = ["add-to-cart", "read-cart", "products"] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  /** A running server to measure; unset = the driver starts its own. */
  url?: string;
  scenarios: ScenarioName[];
  clients: number;
  warmupSeconds: number;
  durationSeconds: number;
  /** Hard cap on measured + warm-up requests per scenario (0 = time bound only). */
  maxRequests: number;
  /** Lines in each cart of the read-cart scenario. */
  cartLines: number;
  /** Distinct variants each add-to-cart client rotates through. */
  addVariants: number;
  store: string;
  staffEmail: string;
  staffPassword?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Measure the two start-ups (empty data, then restart) before the load. */
  coldStart: boolean;
  /** Start the server with NODE_ENV=test so every response carries x-sql-statements. */
  countSql: boolean;
  /** Label of the results file: external | embedded | url, unless given. */
  mode: string;
  outDir: string;
}

const HELP = `Usage: npm run bench -- [options]

  --url <url>              measure a running server (its /graphql and /readyz); default: start one
  --scenarios <list>       comma-separated: ${SCENARIO_NAMES.join(",")} (default: all)
  --clients <n>            concurrent clients (default 64)            env BENCH_CLIENTS
  --warmup <seconds>       warm-up per scenario (default 3)           env BENCH_WARMUP
  --duration <seconds>     measured window per scenario (default 15)  env BENCH_DURATION
  --max-requests <n>       cap on requests per scenario, 0 = none     env BENCH_MAX_REQUESTS
  --cart-lines <n>         lines per cart in read-cart (default 20)
  --add-variants <n>       variants each add-to-cart client rotates through (default 16)
  --store <handle>         store handle sent as x-store (default demo)
  --staff-email <email>    staff account that raises stock (default staff@demo.test)
  --staff-password <pw>    its password (default DEMO_STAFF_PASSWORD; set for a spawned server)
  --no-cold-start          skip the cold start measurement of a spawned server
  --count-sql              spawn the server with NODE_ENV=test to record SQL statements per request
  --mode <label>           results file label (default external | embedded | url)
  --out <dir>              results directory (default bench/results)

  DATABASE_URL / REDIS_URL select external PostgreSQL / Redis for a spawned server. A database named
  in DATABASE_URL that does not exist yet is created for the run and dropped afterwards.`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function seconds(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds >= 0, got "${raw}"`);
  return n;
}

function scenarioList(raw: string | undefined): ScenarioName[] {
  if (!raw) return [...SCENARIO_NAMES];
  const names = raw.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(n)) {
      throw new Error(`unknown scenario "${n}" (known: ${SCENARIO_NAMES.join(", ")})`);
    }
  }
  return names as ScenarioName[];
}

/** Returns null when help was asked for (printed already). */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      url: { type: "string" },
      scenarios: { type: "string" },
      clients: { type: "string" },
      warmup: { type: "string" },
      duration: { type: "string" },
      "max-requests": { type: "string" },
      "cart-lines": { type: "string" },
      "add-variants": { type: "string" },
      store: { type: "string" },
      "staff-email": { type: "string" },
      "staff-password": { type: "string" },
      "no-cold-start": { type: "boolean" },
      "count-sql": { type: "boolean" },
      mode: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return null;
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  const url = values.url?.replace(/\/+$/, "");
  return {
    url,
    scenarios: scenarioList(values.scenarios ?? env.BENCH_SCENARIOS),
    clients: positiveInt("--clients", values.clients ?? env.BENCH_CLIENTS, 64),
    warmupSeconds: seconds("--warmup", values.warmup ?? env.BENCH_WARMUP, 3),
    durationSeconds: Math.max(0.1, seconds("--duration", values.duration ?? env.BENCH_DURATION, 15)),
    maxRequests: positiveInt("--max-requests", values["max-requests"] ?? env.BENCH_MAX_REQUESTS, 0, 0),
    cartLines: positiveInt("--cart-lines", values["cart-lines"], 20),
    addVariants: positiveInt("--add-variants", values["add-variants"], 16),
    store: values.store ?? "demo",
    staffEmail: values["staff-email"] ?? "staff@demo.test",
    staffPassword: values["staff-password"] ?? (env.DEMO_STAFF_PASSWORD || undefined),
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    coldStart: !values["no-cold-start"],
    countSql: values["count-sql"] ?? false,
    mode: values.mode ?? (url ? "url" : databaseUrl ? "external" : "embedded"),
    outDir: values.out ?? "bench/results",
  };
}
