/**
 * subscriptions: N graphql-ws connections subscribe to one feed (feeds.ts); then mutations cause
 * events one after another. Measured: from each mutation's response (its commit) to every delivery and
 * to the last one, the server's RSS before and after the N connections, and the server CPU per delivery.
 * A first, unrecorded event proves every subscription is live before anything is timed (graphql-ws does
 * not acknowledge a subscribe).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import type { BenchContext } from "./context.js";
import type { Feed } from "./feeds.js";
import { type LatencySummary, summarize } from "./load.js";
import {
  type CpuCores,
  CpuMeter,
  type MemoryStats,
  type ProcessGroups,
  readMemory,
} from "./process-stats.js";
import { mapLimit } from "./shop-api.js";

/**
 * RSS is read once it has settled: V8's memory reducer collects and shrinks the heap some seconds after
 * allocation slows down, so reading at once mixes the setup's garbage (or a previous run's closed
 * connections) into the difference. Settled = within SETTLE_MIB for SETTLE_STEADY_MS, at most SETTLE_MAX_MS.
 */
const SETTLE_MIB = 1;
const SETTLE_STEADY_MS = 6_000;
const SETTLE_MAX_MS = 40_000;

async function settledMemory(read: () => MemoryStats | null): Promise<MemoryStats | null> {
  const deadline = performance.now() + SETTLE_MAX_MS;
  let last = read();
  let steadySince = performance.now();
  while (last && performance.now() < deadline && performance.now() - steadySince < SETTLE_STEADY_MS) {
    await sleep(1_000);
    const now = read();
    if (!now) return last;
    if (Math.abs(now.rssMiB - last.rssMiB) > SETTLE_MIB) steadySince = performance.now();
    last = now;
  }
  return last;
}

/** Connections opened at once while subscribing. */
const CONNECT_CONCURRENCY = 50;
/** How long one event may take to reach every subscriber before the missing ones count as lost. */
const DELIVERY_TIMEOUT_MS = 120_000;
const PAUSE_BETWEEN_EVENTS_MS = 500;

export interface EventResult {
  key: string;
  delivered: number;
  /** From the mutation's response to the last delivery (to the timeout when some were lost). */
  lastDeliveryMs: number;
  /** The same from the moment the mutation was sent. */
  lastDeliveryFromSendMs: number;
  deliveryMs: LatencySummary;
}

export interface SubscriptionsResult {
  name: "subscriptions";
  feed: string;
  document: string;
  trigger: string;
  subscribers: number;
  setupSeconds: number;
  /** Seconds to open and initialise all connections and send every subscribe. */
  connectSeconds: number;
  /** Subscribers that received the unrecorded first event (live subscriptions). */
  live: number;
  connectionErrors: number;
  subscriptionErrors: number;
  serverMemory: {
    beforeConnecting: MemoryStats | null;
    afterConnecting: MemoryStats | null;
    /** (after - before) / N, KiB. */
    perConnectionKiB: number | null;
  };
  events: EventResult[];
  /** Over the recorded events: each event's last delivery, from the mutation's response. */
  lastDeliveryMs: LatencySummary;
  /** Over every delivery of the recorded events, from the mutation's response. */
  deliveryMs: LatencySummary;
  /** Deliveries that did not arrive within the timeout, over the recorded events. */
  lost: number;
  /** During the recorded events. */
  cpuCores: CpuCores;
  serverCpuMsPerDelivery: number | null;
}

export async function runSubscriptions(
  ctx: BenchContext,
  feed: Feed,
  subscribers: number,
  events: number,
  processes: ProcessGroups,
): Promise<SubscriptionsResult> {
  const setupStarted = performance.now();
  const prepared = await feed.prepare(ctx, subscribers, events);
  const setupSeconds = Math.round((performance.now() - setupStarted) / 100) / 10;
  const serverPid = processes.serverPid;
  const memory = () => (serverPid ? readMemory(serverPid) : null);
  const beforeConnecting = await settledMemory(memory);

  const arrivals = new Map<string, number[]>();
  let subscriptionErrors = 0;
  let connectionErrors = 0;
  let firstError: string | undefined;
  const noteError = (e: unknown) => {
    subscriptionErrors += 1;
    firstError ??= Array.isArray(e)
      ? (e as { message?: string }[]).map((x) => x.message).join("; ")
      : e instanceof Error
        ? e.message
        : JSON.stringify(e);
  };
  const onData = (data: unknown) => {
    const key = feed.keyOf(data);
    if (key === undefined) return;
    const list = arrivals.get(key) ?? [];
    if (list.length === 0) arrivals.set(key, list);
    list.push(performance.now());
  };

  const wsUrl = `${ctx.url.replace(/^http/, "ws")}/graphql`;
  const clients: Client[] = [];
  const connectStarted = performance.now();
  await mapLimit(prepared.subscribers, CONNECT_CONCURRENCY, async (s) => {
    try {
      const client = await new Promise<Client>((resolve, reject) => {
        const c: Client = createClient({
          url: wsUrl,
          webSocketImpl: WebSocket,
          lazy: false,
          retryAttempts: 0,
          connectionParams: { store: ctx.opts.store, authorization: s.authorization },
          on: { connected: () => resolve(c) },
          onNonLazyError: reject,
        });
      });
      clients.push(client);
      client.subscribe(
        { query: feed.document, variables: s.variables },
        {
          next: (result) => {
            if (result.data) onData(result.data);
            if (result.errors?.length) noteError(result.errors);
          },
          error: noteError,
          complete: () => {},
        },
      );
    } catch {
      connectionErrors += 1;
    }
  });
  const connectSeconds = Math.round((performance.now() - connectStarted) / 100) / 10;

  const waitForAll = async (key: string, expected: number): Promise<number[]> => {
    const deadline = performance.now() + DELIVERY_TIMEOUT_MS;
    while (performance.now() < deadline && (arrivals.get(key)?.length ?? 0) < expected) await sleep(5);
    return arrivals.get(key) ?? [];
  };

  try {
    // A document the server refuses fails every subscribe at once: say so instead of waiting.
    await sleep(1_000);
    if (clients.length > 0 && subscriptionErrors >= clients.length) {
      throw new Error(
        `subscriptions (${feed.name}): every subscribe failed, e.g. "${firstError}": ` +
          "is the feed's document right for this server?",
      );
    }
    // The first event is not recorded: it shows which subscriptions are live.
    const probe = await prepared.fire(0);
    const live = (await waitForAll(probe.key, clients.length)).length;
    if (live === 0) {
      throw new Error(
        `subscriptions (${feed.name}): no subscriber received the first event ` +
          `(${subscriptionErrors} subscription errors${firstError ? `, e.g. "${firstError}"` : ""}, ` +
          `${connectionErrors} connection errors): ` +
          "is the feed's document right for this server?",
      );
    }
    const afterConnecting = await settledMemory(memory);

    const recorded: EventResult[] = [];
    const allDeliveryMs: number[] = [];
    const meter = new CpuMeter(processes);
    meter.begin();
    for (let i = 1; i <= events; i++) {
      await sleep(PAUSE_BETWEEN_EVENTS_MS);
      const fired = await prepared.fire(i);
      const times = await waitForAll(fired.key, live);
      const end = times.length >= live ? Math.max(...times) : performance.now();
      const fromResponse = times.map((t) => t - fired.respondedAt);
      for (const ms of fromResponse) allDeliveryMs.push(ms);
      recorded.push({
        key: fired.key,
        delivered: times.length,
        lastDeliveryMs: round(end - fired.respondedAt),
        lastDeliveryFromSendMs: round(end - fired.sentAt),
        deliveryMs: summarize(fromResponse),
      });
    }
    const cpuCores = meter.end();
    const delivered = recorded.reduce((sum, e) => sum + e.delivered, 0);
    const perConnection =
      beforeConnecting && afterConnecting && clients.length > 0
        ? round(((afterConnecting.rssMiB - beforeConnecting.rssMiB) * 1024) / clients.length, 1)
        : null;
    return {
      name: "subscriptions",
      feed: feed.name,
      document: feed.document,
      trigger: feed.trigger,
      subscribers,
      setupSeconds,
      connectSeconds,
      live,
      connectionErrors,
      subscriptionErrors,
      serverMemory: { beforeConnecting, afterConnecting, perConnectionKiB: perConnection },
      events: recorded,
      lastDeliveryMs: summarize(recorded.map((e) => e.lastDeliveryMs)),
      deliveryMs: summarize(allDeliveryMs),
      lost: recorded.reduce((sum, e) => sum + (live - e.delivered), 0),
      cpuCores,
      serverCpuMsPerDelivery:
        cpuCores.server === null || delivered === 0
          ? null
          : round((cpuCores.serverCpuSeconds * 1000) / delivered, 3),
    };
  } finally {
    await Promise.all(clients.map((c) => c.dispose()));
    await prepared.cleanup();
  }
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
