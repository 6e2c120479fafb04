/**
 * The Lua scripts, each atomic on the Redis side. Every script's keys share one hash slot (see the key
 * scheme in redis.ts), so they run unchanged on a cluster. ioredis runs them by EVALSHA and falls back to
 * EVAL when a node does not have a script yet.
 */
import type { RedisClient } from "./redis-connection.js";

/** Compare-and-set on "<version>|<value>" entries: replaced only by an equal or newer version. */
const SET_IF_NEWER = `
local current = redis.call('GET', KEYS[1])
if current then
  local sep = string.find(current, '|', 1, true)
  if sep and tonumber(string.sub(current, 1, sep - 1)) > tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. '|' .. ARGV[2], 'EX', tonumber(ARGV[3]))
return 1`;

/**
 * PUBLISH, run as a script so that it is routed like a key: KEYS[1] is the channel (never read or
 * written as a key). On a cluster a plain PUBLISH goes to a random node, and messages of one topic sent
 * through different nodes can overtake each other on the way to a subscriber's node; routed by the
 * channel's slot, every message of a topic leaves from the same node, so they arrive in publish order.
 */
const PUBLISH_IN_ORDER = `return redis.call('PUBLISH', KEYS[1], ARGV[1])`;

/**
 * KEYS: counters; ARGV: the quantity for each. All or nothing: when any existing counter is below its
 * quantity, nothing changes and the reply lists (index, counter) pairs of the short lines; otherwise
 * every existing counter is decremented and the reply is empty. Missing counters pass untouched.
 */
const STOCK_TAKE = `
local short = {}
local present = {}
for i, key in ipairs(KEYS) do
  local n = tonumber(redis.call('GET', key))
  if n then
    present[i] = true
    if n < tonumber(ARGV[i]) then
      short[#short + 1] = i
      short[#short + 1] = n
    end
  end
end
if #short > 0 then return short end
for i, key in ipairs(KEYS) do
  if present[i] then redis.call('DECRBY', key, ARGV[i]) end
end
return short`;

/** KEYS: counters; ARGV: units to add back to each counter that exists (its TTL is kept). */
const STOCK_GIVE_BACK = `
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
end
return 0`;

/** KEYS: counters; ARGV[1]: TTL in seconds, then the value for each counter. */
const STOCK_SET = `
for i, key in ipairs(KEYS) do
  redis.call('SET', key, ARGV[i + 1], 'EX', tonumber(ARGV[1]))
end
return 0`;

export interface Scripts {
  publish(channel: string, message: string): Promise<unknown>;
  setIfNewer(key: string, version: number, value: string, ttlSeconds: number): Promise<unknown>;
  /** Empty when admitted; else [index (1-based), counter, index, counter, ...] of the short lines. */
  stockTake(keys: string[], quantities: number[]): Promise<number[]>;
  stockGiveBack(keys: string[], quantities: number[]): Promise<unknown>;
  stockSet(keys: string[], values: number[], ttlSeconds: number): Promise<unknown>;
}

/** A command connection with its scripts registered. */
export interface Connected {
  client: RedisClient;
  scripts: Scripts;
}

type ScriptCommand = (...args: (string | number)[]) => Promise<unknown>;

/** Registers the scripts on `client` (once per client) and returns typed callers. */
export function defineScripts(client: RedisClient): Scripts {
  client.defineCommand("cgPublish", { numberOfKeys: 1, lua: PUBLISH_IN_ORDER });
  client.defineCommand("cgSetIfNewer", { numberOfKeys: 1, lua: SET_IF_NEWER });
  // No fixed key count: the first argument says how many keys follow.
  client.defineCommand("cgStockTake", { lua: STOCK_TAKE });
  client.defineCommand("cgStockGiveBack", { lua: STOCK_GIVE_BACK });
  client.defineCommand("cgStockSet", { lua: STOCK_SET });
  const command = (name: string): ScriptCommand => {
    const fn = (client as unknown as Record<string, ScriptCommand>)[name]!;
    return (...args) => fn.apply(client, args);
  };
  const publish = command("cgPublish");
  const setIfNewer = command("cgSetIfNewer");
  const take = command("cgStockTake");
  const giveBack = command("cgStockGiveBack");
  const set = command("cgStockSet");
  return {
    publish: (channel, message) => publish(channel, message),
    setIfNewer: (key, version, value, ttl) => setIfNewer(key, String(version), value, String(ttl)),
    stockTake: async (keys, quantities) => (await take(keys.length, ...keys, ...quantities)) as number[],
    stockGiveBack: (keys, quantities) => giveBack(keys.length, ...keys, ...quantities),
    stockSet: (keys, values, ttl) => set(keys.length, ...keys, ttl, ...values),
  };
}
