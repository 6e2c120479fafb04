/**
 * The driver's settings: CLI flags first, then BENCH_* environment variables, then defaults.
 * DATABASE_URL / REDIS_URL / WEB_CONCURRENCY are read as the server reads them (they pick the mode).
 */
import { parseArgs } from "node:util";
import { FEED_NAMES, type FeedName } from "./feeds.js";

/** Closed-loop scenarios: run once per client count. */
export const LOAD_SCENARIOS = [
  "add-to-cart",
  "read-cart",
  "products",
  "checkout",
  "checkout-fraud",
  "shopper",
] as const;
/** Everything --scenarios accepts, in the order a full run takes them. */
export const SCENARIO_NAMES = [...LOAD_SCENARIOS, "ceiling", "flash-sale", "subscriptions"] as const;
export type LoadScenarioName = (typeof LOAD_SCENARIOS)[number];
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  /** A running server to measure; unset = the driver starts its own. */
  url?: string;
  scenarios: ScenarioName[];
  /** Concurrent clients; each load scenario (and each ceiling) runs once per entry. */
  clients: number[];
  warmupSeconds: number;
  durationSeconds: number;
  /** Hard cap on measured + warm-up requests per scenario (0 = time bound only). */
  maxRequests: number;
  /** Lines in each cart of the read-cart scenario. */
  cartLines: number;
  /** Distinct variants each add-to-cart client rotates through. */
  addVariants: number;
  /** Variants the checkout, shopper and ceiling carts draw their 3 lines from. */
  checkoutVariants: number;
  /** Ready carts built for one checkout run; 0 = sized from a calibration run. */
  checkoutCarts: number;
  flashBuyers: number;
  flashStock: number;
  /** Subscriber counts of the subscriptions scenario, one run each. */
  subscribers: number[];
  /** Events (triggering mutations) per subscriptions run. */
  subscriptionEvents: number;
  feed: FeedName;
  /** Minutes of shopper load with RSS sampling (0 = no soak). */
  soakMinutes: number;
  /** Server processes of a spawned server (WEB_CONCURRENCY). */
  webConcurrency: string;
  /** Directory for `node --cpu-prof` profiles of the spawned server, unset = no profiling. */
  cpuProfDir?: string;
  /** Extra node flags of the measured spawned server (e.g. `--max-semi-space-size=64`). */
  nodeArgs: string[];
  /** Directory for heap snapshots of the spawned server during the soak, unset = none. */
  heapSnapshotDir?: string;
  /** Seconds into the soak's measured window at which a heap snapshot is taken. */
  heapSnapshotAt: number[];
  store: string;
  staffEmail: string;
  staffPassword?: string;
  databaseUrl?: string;
  redisUrl?: string;
  /** Measure the two start-ups (empty data, then restart) before the load. */
  coldStart: boolean;
  /** Start the server with NODE_ENV=test so every response carries x-sql-statements. */
  countSql: boolean;
  /** VACUUM (ANALYZE) the run's database before each measured window (bench/maintenance.ts). */
  vacuum: "auto" | "on" | "off";
  /** Label of the results file: external | embedded | url, unless given. */
  mode: string;
  outDir: string;
}

const HELP = `Usage: npm run bench -- [options]

  --url <url>              measure a running server (its /graphql and /readyz); default: start one
  --scenarios <list>       comma-separated: ${SCENARIO_NAMES.join(",")} (default: all;
                           none = only what other flags ask for, e.g. --soak)
  --clients <list>         concurrent clients, e.g. 16,64: every load scenario and ceiling runs at each
                           (default 16,64)                            env BENCH_CLIENTS
  --warmup <seconds>       warm-up per scenario (default 3)           env BENCH_WARMUP
  --duration <seconds>     measured window per scenario (default 15)  env BENCH_DURATION
  --max-requests <n>       cap on requests per scenario, 0 = none     env BENCH_MAX_REQUESTS
  --cart-lines <n>         lines per cart in read-cart (default 20)
  --add-variants <n>       variants each add-to-cart client rotates through (default 16)
  --checkout-variants <n>  variants checkout/shopper/ceiling carts take their 3 lines from (default 24)
  --checkout-carts <n>     ready carts per checkout run (default 0 = sized by a calibration run)
  --flash-buyers <n>       flash-sale buyers firing at once (default 500)
  --flash-stock <n>        units of the flash-sale variant (default 50)
  --subscribers <list>     subscriptions: subscriber counts, one run each (default 1000,5000)
  --subscription-events <n> triggering mutations per subscriptions run (default 5)
  --feed <name>            subscription feed: ${FEED_NAMES.join(" | ")} (default order-status)
  --soak <minutes>         also run the shopper flow this long, sampling server RSS (default 0 = off)
  --web-concurrency <n>    WEB_CONCURRENCY of a spawned server (default: env WEB_CONCURRENCY, else 1)
  --cpu-prof <dir>         spawn the server under node --cpu-prof, profiles written to <dir>
  --node-args <flags>      extra node flags of the spawned server, space-separated
                           (e.g. "--max-semi-space-size=64")
  --heap-snapshots <dir>   soak: write V8 heap snapshots of the spawned server to <dir> (SIGUSR2)
  --heap-snapshot-at <list> soak: seconds into the measured window to take them (default 60,240)
  --store <handle>         store handle sent as x-store (default demo)
  --staff-email <email>    staff account that raises stock (default staff@demo.test)
  --staff-password <pw>    its password (default DEMO_STAFF_PASSWORD; set for a spawned server)
  --no-cold-start          skip the cold start measurement of a spawned server
  --count-sql              spawn the server with NODE_ENV=test to record SQL statements per request
  --vacuum <auto|on|off>   VACUUM (ANALYZE) the run's database before each measured window, as
                           autovacuum would; auto (default): when its PostgreSQL has autovacuum off
  --mode <label>           results file label (default external | embedded | url, plus -wN)
  --out <dir>              results directory (default bench/results)

  DATABASE_URL / REDIS_URL select external PostgreSQL / Redis for a spawned server. A database named
  in DATABASE_URL that does not exist yet is created for the run and dropped afterwards.`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

function intList(name: string, raw: string | undefined, fallback: number[]): number[] {
  if (raw === undefined || raw === "") return fallback;
  return raw.split(",").map((part) => positiveInt(name, part.trim(), 1));
}

function seconds(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of seconds >= 0, got "${raw}"`);
  return n;
}

function nameList<T extends string>(what: string, known: readonly T[], raw: string | undefined): T[] {
  if (!raw) return [...known];
  if (raw === "none") return [];
  const names = raw.split(",").map((s) => s.trim());
  for (const n of names) {
    if (!(known as readonly string[]).includes(n)) {
      throw new Error(`unknown ${what} "${n}" (known: ${known.join(", ")})`);
    }
  }
  return names as T[];
}

function vacuumMode(raw: string | undefined): BenchOptions["vacuum"] {
  const mode = raw ?? "auto";
  if (mode === "auto" || mode === "on" || mode === "off") return mode;
  throw new Error(`--vacuum takes auto, on or off, not "${mode}"`);
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
      "checkout-variants": { type: "string" },
      "checkout-carts": { type: "string" },
      "flash-buyers": { type: "string" },
      "flash-stock": { type: "string" },
      subscribers: { type: "string" },
      "subscription-events": { type: "string" },
      feed: { type: "string" },
      soak: { type: "string" },
      "web-concurrency": { type: "string" },
      "cpu-prof": { type: "string" },
      "node-args": { type: "string" },
      "heap-snapshots": { type: "string" },
      "heap-snapshot-at": { type: "string" },
      store: { type: "string" },
      "staff-email": { type: "string" },
      "staff-password": { type: "string" },
      "no-cold-start": { type: "boolean" },
      "count-sql": { type: "boolean" },
      vacuum: { type: "string" },
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
  const webConcurrency = values["web-concurrency"] ?? (env.WEB_CONCURRENCY || "1");
  if (webConcurrency !== "auto") positiveInt("--web-concurrency", webConcurrency, 1);
  const [feed] = nameList("feed", FEED_NAMES, values.feed ?? "order-status");
  const baseMode = url ? "url" : databaseUrl ? "external" : "embedded";
  return {
    url,
    scenarios: nameList("scenario", SCENARIO_NAMES, values.scenarios ?? env.BENCH_SCENARIOS),
    clients: intList("--clients", values.clients ?? env.BENCH_CLIENTS, [16, 64]),
    warmupSeconds: seconds("--warmup", values.warmup ?? env.BENCH_WARMUP, 3),
    durationSeconds: Math.max(0.1, seconds("--duration", values.duration ?? env.BENCH_DURATION, 15)),
    maxRequests: positiveInt("--max-requests", values["max-requests"] ?? env.BENCH_MAX_REQUESTS, 0, 0),
    cartLines: positiveInt("--cart-lines", values["cart-lines"], 20),
    addVariants: positiveInt("--add-variants", values["add-variants"], 16),
    checkoutVariants: positiveInt("--checkout-variants", values["checkout-variants"], 24, 3),
    checkoutCarts: positiveInt("--checkout-carts", values["checkout-carts"], 0, 0),
    flashBuyers: positiveInt("--flash-buyers", values["flash-buyers"], 500),
    flashStock: positiveInt("--flash-stock", values["flash-stock"], 50),
    subscribers: intList("--subscribers", values.subscribers, [1000, 5000]),
    subscriptionEvents: positiveInt("--subscription-events", values["subscription-events"], 5),
    feed: feed as FeedName,
    soakMinutes: seconds("--soak", values.soak, 0),
    webConcurrency,
    cpuProfDir: values["cpu-prof"],
    nodeArgs: (values["node-args"] ?? "").split(/\s+/).filter(Boolean),
    heapSnapshotDir: values["heap-snapshots"],
    heapSnapshotAt: intList("--heap-snapshot-at", values["heap-snapshot-at"], [60, 240]),
    store: values.store ?? "demo",
    staffEmail: values["staff-email"] ?? "staff@demo.test",
    staffPassword: values["staff-password"] ?? (env.DEMO_STAFF_PASSWORD || undefined),
    databaseUrl,
    redisUrl: env.REDIS_URL || undefined,
    coldStart: !values["no-cold-start"],
    countSql: values["count-sql"] ?? false,
    vacuum: vacuumMode(values.vacuum),
    mode: values.mode ?? (url || webConcurrency === "1" ? baseMode : `${baseMode}-w${webConcurrency}`),
    outDir: values.out ?? "bench/results",
  };
}
