/**
 * A PostgreSQL streaming replica (DATABASE_READ_URL) for reads that tolerate a bounded staleness.
 *
 * It has its own pool for reads, plus one connection to the replica and one to the primary used only
 * by the lag probe, so a busy pool cannot delay the measurement (a delayed probe would read as lag and
 * push reads back onto the primary exactly when it is busy). The probe runs every `probeIntervalMs`
 * (see replica-lag.ts for how staleness is derived from WAL positions). The replica is usable when the
 * last probe found it up and the staleness bound, which grows between probes, is within `maxLagMs`.
 * A read that loses its replica connection marks it down until the next successful probe.
 */
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import type { Logger } from "../logger.js";
import { createDatabase, type Database, type Db } from "./client.js";
import { ReplicaLagTracker } from "./replica-lag.js";

export interface ReadReplicaOptions {
  url: string;
  /** The primary the replica follows: asked for its WAL position by the probe. */
  primaryUrl: string;
  maxLagMs: number;
  probeIntervalMs: number;
  poolSize: number;
  logger: Logger;
  /** Count its statements per request (tests only). */
  countStatements?: boolean;
}

/** What /readyz reports as `replica` and the `cartograph_db_replica_*` gauges show. */
export interface ReadReplicaHealth {
  /** The last probe reached it as a standby, and no read lost its connection since. */
  up: boolean;
  /** Reads that may use a replica are sent to it right now. */
  usable: boolean;
  /** Staleness measured at the last probe (0 = it had replayed all the primary had); null = unknown. */
  lagMs: number | null;
  /** WAL bytes not yet replayed at the last probe. */
  lagBytes: number | null;
  /** Time since the last successful probe: the staleness bound is lagMs + probeAgeMs. */
  probeAgeMs: number | null;
  maxLagMs: number;
  /** pg_is_wal_replay_paused() at the last probe. */
  replayPaused: boolean | null;
  /** Reads that failed on the replica and were answered by the primary instead. */
  fallbacks: number;
  /** Why it is down or unmeasured (the last probe or read failure); logged, not served by /readyz. */
  error: string | null;
}

/** The health as /readyz serves it: the error text (server addresses) stays in the logs. */
export type ReadReplicaReadiness = Omit<ReadReplicaHealth, "error">;

interface PrimaryRow {
  lsn: string;
  clock: Date;
}
interface ReplicaRow {
  in_recovery: boolean;
  replay_lsn: string | null;
  replayed_commit: Date | null;
  paused: boolean | null;
}

type ProbeClient = "primary" | "replica";

export class ReadReplica {
  /** The replica's read pool; its statements are counted as replica statements. */
  readonly database: Database;
  private readonly lag = new ReplicaLagTracker();
  private readonly probeClients: Record<ProbeClient, postgres.Sql>;
  private up = false;
  /** Bumped when the replica is marked down: a probe that started before cannot bring it back up. */
  private epoch = 0;
  private replayPaused: boolean | null = null;
  private lastError: string | null = null;
  private fallbacks = 0;
  private timer: NodeJS.Timeout | undefined;
  private probing: Promise<void> | undefined;
  private wasUsable = false;
  private closed = false;

  constructor(private readonly opts: ReadReplicaOptions) {
    this.database = createDatabase(opts.url, {
      poolSize: opts.poolSize,
      replica: true,
      connectTimeoutSeconds: 2,
      countStatements: opts.countStatements,
    });
    this.probeClients = { primary: this.probeClient("primary"), replica: this.probeClient("replica") };
  }

  get db(): Db {
    return this.database.db;
  }

  /** Runs the first probe, then keeps probing in the background. Never throws: a down replica is skipped. */
  async start(): Promise<void> {
    await this.probe();
    if (this.closed) return;
    this.timer = setInterval(() => void this.probe(), this.opts.probeIntervalMs);
    this.timer.unref();
  }

  usable(nowMs = performance.now()): boolean {
    if (!this.up) return false;
    const staleness = this.lag.stalenessMs(nowMs);
    return staleness !== null && staleness <= this.opts.maxLagMs;
  }

  /**
   * A read failed on the replica and is being retried on the primary. A lost connection marks the
   * replica down until a probe that starts after this succeeds.
   */
  readFailed(error: unknown, connectionLost: boolean): void {
    this.fallbacks++;
    if (!connectionLost) return;
    this.markDown(`read failed: ${describe(error)}`);
  }

  health(nowMs = performance.now()): ReadReplicaHealth {
    const probedAt = this.lag.probedAtMs();
    return {
      up: this.up,
      usable: this.usable(nowMs),
      lagMs: round(this.lag.lagMs()),
      lagBytes: this.lag.lagBytes(),
      probeAgeMs: probedAt === null ? null : round(Math.max(0, nowMs - probedAt)),
      maxLagMs: this.opts.maxLagMs,
      replayPaused: this.replayPaused,
      fallbacks: this.fallbacks,
      error: this.lastError,
    };
  }

  readiness(): ReadReplicaReadiness {
    const { error: _logged, ...state } = this.health();
    return state;
  }

  /** Measures the lag now (the background loop calls this; overlapping calls share one probe). */
  probe(): Promise<void> {
    this.probing ??= this.probeOnce().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.probing?.catch(() => {});
    await Promise.all([
      this.database.close(),
      this.probeClients.primary.end({ timeout: 5 }),
      this.probeClients.replica.end({ timeout: 5 }),
    ]);
  }

  private async probeOnce(): Promise<void> {
    if (this.closed) return;
    await this.measure();
    const usable = this.usable();
    // Down and up are logged where they happen; this is the lag bound being crossed while up.
    if (this.up && usable !== this.wasUsable) {
      const { lagMs, lagBytes, replayPaused } = this.health();
      this.opts.logger.info(
        { lagMs, lagBytes, replayPaused, maxLagMs: this.opts.maxLagMs },
        usable
          ? "read replica within its lag bound: in use"
          : "read replica lags past its bound: reads go to the primary",
      );
    }
    this.wasUsable = usable;
  }

  private async measure(): Promise<void> {
    const epoch = this.epoch;
    const atMs = performance.now();
    let primary: PrimaryRow | undefined;
    try {
      [primary] = await this.ask(
        "primary",
        (sql) => sql<PrimaryRow[]>`
          select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text as lsn, clock_timestamp() as clock`,
      );
    } catch (e) {
      // Without the primary's position the lag is unknown; the staleness bound keeps growing, so the
      // replica drops out once it passes maxLagMs. Whether the replica is up is not in question.
      this.lastError = `lag probe on the primary failed: ${describe(e)}`;
      return;
    }
    try {
      const [replica] = await this.ask(
        "replica",
        (sql) => sql<ReplicaRow[]>`
          select pg_is_in_recovery() as in_recovery,
                 pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')::text as replay_lsn,
                 pg_last_xact_replay_timestamp() as replayed_commit,
                 case when pg_is_in_recovery() then pg_is_wal_replay_paused() end as paused`,
      );
      if (!primary || !replica) throw new Error("lag probe returned no row");
      if (!replica.in_recovery || replica.replay_lsn === null) {
        throw new Error("DATABASE_READ_URL is not a standby (pg_is_in_recovery() is false)");
      }
      if (this.closed || epoch !== this.epoch) return;
      this.lag.record(
        { atMs, lsn: BigInt(primary.lsn), clockMs: primary.clock.getTime() },
        {
          replayLsn: BigInt(replica.replay_lsn),
          lastReplayedCommitMs: replica.replayed_commit?.getTime() ?? null,
        },
      );
      this.replayPaused = replica.paused;
      this.lastError = null;
      if (!this.up) this.opts.logger.info({ lagMs: this.lag.lagMs() }, "read replica is up");
      this.up = true;
    } catch (e) {
      if (!this.closed) this.markDown(`lag probe failed: ${describe(e)}`);
    }
  }

  private markDown(reason: string): void {
    // Once per outage: when it was up, or on the first failure after start or recovery.
    if (this.up || this.lastError === null) {
      this.opts.logger.warn({ reason }, "read replica is down; reads go to the primary");
    }
    this.epoch++;
    this.lastError = reason;
    this.lag.reset();
    this.replayPaused = null;
    this.up = false;
  }

  /**
   * One probe statement, bounded by maxLagMs: past that the answer is useless anyway. A server that
   * stopped answering (frozen, or a dropped network path) would otherwise hold the probe connection;
   * it is replaced instead, so later probes do not queue behind the stuck one.
   */
  private async ask<T>(which: ProbeClient, query: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const client = this.probeClients[which];
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ProbeTimeout(this.opts.maxLagMs)), this.opts.maxLagMs);
    });
    try {
      return await Promise.race([query(client), timeout]);
    } catch (e) {
      if (this.probeClients[which] === client && !this.closed && e instanceof ProbeTimeout) {
        this.probeClients[which] = this.probeClient(which);
        void client.end({ timeout: 0 }).catch(() => {});
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private probeClient(which: ProbeClient): postgres.Sql {
    return postgres(which === "primary" ? this.opts.primaryUrl : this.opts.url, {
      max: 1,
      connect_timeout: 2,
      onnotice: () => {},
      connection: { application_name: "cartograph-replica-probe" },
    });
  }
}

class ProbeTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** The driver's own error (drizzle wraps it with the SQL text and parameters, which stay out of logs). */
function describe(error: unknown): string {
  let e = error;
  while (e instanceof Error && e.cause instanceof Error) e = e.cause;
  if (!(e instanceof Error)) return String(e);
  const code = (e as Error & { code?: unknown }).code;
  return typeof code === "string" && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
}

function round(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms);
}
