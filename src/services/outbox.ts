/**
 * The transactional outbox: a service that changes state records the event with `writeOutbox(tx, ...)`
 * inside the same transaction, so the event exists exactly when the change committed. The OutboxRelay
 * (outbox-relay.ts) publishes it to pub/sub afterwards, at least once, leasing the row rather than
 * holding a transaction open across the publish.
 *
 * Naming. A topic is `<entity>.<what_happened>`, lower snake case: `order.status_changed`,
 * `cart.price_changed`. The key is the id of the entity the event is about (the order id, the cart id).
 * Every event is published on three channels, each carrying the same `OutboxMessage`:
 *   `<topic>:<key>`        one entity            `order.status_changed:<orderId>`
 *   `<topic>@<storeId>`    one store             `order.status_changed@<storeId>` (staff: any order)
 *   `<topic>`              every store           internal consumers only: never hand it to a client
 *                                                without filtering by storeId.
 * Build channel names with `entityChannel` / `storeChannel`, never by hand.
 */
import { type SQLWrapper, sql } from "drizzle-orm";
import type { Executor } from "../db/client.js";
import { outbox } from "../db/schema.js";

/** The PostgreSQL NOTIFY channel that wakes the relays when a transaction with events commits. */
export const OUTBOX_NOTIFY_CHANNEL = "cartograph_outbox";

const TOPIC = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

export interface OutboxEvent {
  storeId: string;
  /** `<entity>.<what_happened>`, e.g. `order.status_changed`. */
  topic: string;
  /** Id of the entity the event is about. */
  key: string;
  payload: Record<string, unknown>;
}

/**
 * What subscribers receive. Delivery is at least once: dedupe by `id`. Ids grow in insertion order;
 * for one key they follow commit order too, because the services lock the entity's row before writing
 * its event. A type, not an interface, so that it is a `Record<string, unknown>` pub/sub can carry.
 */
export type OutboxMessage = {
  id: number;
  storeId: string;
  topic: string;
  key: string;
  /** ISO timestamp of the transaction that wrote the event. */
  occurredAt: string;
  payload: Record<string, unknown>;
};

export const entityChannel = (topic: string, key: string): string => `${topic}:${key}`;
export const storeChannel = (topic: string, storeId: string): string => `${topic}@${storeId}`;

/** Every channel an event is published on (see the naming at the top of this file). */
export function outboxChannels(event: Pick<OutboxEvent, "storeId" | "topic" | "key">): string[] {
  return [entityChannel(event.topic, event.key), storeChannel(event.topic, event.storeId), event.topic];
}

/**
 * Records `event` in the caller's transaction, and asks PostgreSQL to notify the relays: NOTIFY is
 * delivered only at commit (and never on rollback), so a relay wakes exactly when there is something
 * to publish. One statement, so it costs every use case a single round trip.
 */
export async function writeOutbox(tx: Executor, event: OutboxEvent): Promise<void> {
  if (!TOPIC.test(event.topic)) throw new Error(`invalid outbox topic "${event.topic}"`);
  if (!event.key || /[\s:@]/.test(event.key)) throw new Error(`invalid outbox key "${event.key}"`);
  await tx.execute(sql`
    with written as (
      insert into ${outbox} (store_id, topic, key, payload)
      values (${event.storeId}, ${event.topic}, ${event.key}, ${JSON.stringify(event.payload)}::jsonb)
      returning id
    )
    select pg_notify(${OUTBOX_NOTIFY_CHANNEL}, '') from written`);
}

/** Narrows a pub/sub payload to the message the relay publishes. */
export function isOutboxMessage(value: Record<string, unknown>): value is OutboxMessage {
  return (
    typeof value.id === "number" &&
    typeof value.storeId === "string" &&
    typeof value.topic === "string" &&
    typeof value.key === "string" &&
    typeof value.occurredAt === "string" &&
    typeof value.payload === "object" &&
    value.payload !== null
  );
}

/**
 * Several events in one statement (and one NOTIFY): for changes that announce many things at once.
 * `alongside`: other writes of the same change (drizzle insert/update queries without RETURNING), sent
 * in the same statement as data-modifying CTEs, so a use case that writes rows and announces them pays
 * one round trip for all of it. They run whether or not there are events.
 * `returning`: more writes WITH RETURNING whose first rows come back as JSON, in their order (turn each
 * into a row with rowFromJson), for a use case that needs what it inserted.
 */
export async function writeOutboxMany(
  tx: Executor,
  events: readonly OutboxEvent[],
  alongside: readonly SQLWrapper[] = [],
  returning: readonly SQLWrapper[] = [],
): Promise<(Record<string, unknown> | null)[]> {
  if (events.length === 0 && alongside.length === 0 && returning.length === 0) return [];
  if (events.length === 1 && events[0] && alongside.length === 0 && returning.length === 0) {
    await writeOutbox(tx, events[0]);
    return [];
  }
  for (const event of events) {
    if (!TOPIC.test(event.topic)) throw new Error(`invalid outbox topic "${event.topic}"`);
    if (!event.key || /[\s:@]/.test(event.key)) throw new Error(`invalid outbox key "${event.key}"`);
  }
  const ctes = alongside.map((q, i) => sql`${sql.raw(`alongside_${i}`)} as (${q.getSQL()})`);
  returning.forEach((q, i) => {
    ctes.push(sql`${sql.raw(`returned_${i}`)} as (${q.getSQL()})`);
  });
  if (events.length) {
    const values = events.map(
      (e) => sql`(${e.storeId}::uuid, ${e.topic}, ${e.key}, ${JSON.stringify(e.payload)}::jsonb)`,
    );
    ctes.push(sql`written as (
      insert into ${outbox} (store_id, topic, key, payload)
      values ${sql.join(values, sql`, `)}
      returning id)`);
  }
  const notified = events.length
    ? sql`(select pg_notify(${OUTBOX_NOTIFY_CHANNEL}, '') from written limit 1)`
    : sql`null`;
  const rows = returning.length
    ? sql`json_build_array(${sql.join(
        returning.map((_, i) => sql.raw(`(select to_json(r) from returned_${i} r limit 1)`)),
        sql`, `,
      )})`
    : sql`null`;
  const [result] = await tx.execute<{ rows: (Record<string, unknown> | null)[] | null }>(
    sql`with ${sql.join(ctes, sql`, `)} select ${rows} as rows, ${notified} as notified`,
  );
  return result?.rows ?? [];
}
