/**
 * The listeners of each pub/sub topic in this process. Shared by the Redis adapter and the in-memory
 * twin, so both end, release and copy exactly alike.
 */
import type { Subscription } from "./types.js";

type Listener = (makePayload: () => Record<string, unknown>) => void;

interface TopicState {
  listeners: Set<Listener>;
  /** Settles when the backing subscription for this topic is established (shared by its listeners). */
  ready: Promise<void>;
}

export interface TopicHooks {
  /** Runs when a topic gets its first listener; its settling is the subscription's `ready`. */
  subscribe?: (topic: string) => Promise<unknown>;
  /** Runs when a topic's last listener leaves. */
  unsubscribe?: (topic: string) => Promise<unknown>;
}

/**
 * The listeners of each topic in this process, and one async iterator per subscriber that buffers
 * between pulls. Shared by the Redis adapter and the in-memory twin, so both end, release and copy
 * exactly alike.
 */
export class TopicHub {
  private readonly topics = new Map<string, TopicState>();
  private readonly open = new Set<() => Promise<unknown>>();
  /** While closing, leaving topics does not unsubscribe: the connection is dropped anyway. */
  private closing = false;
  /** Rejected by closeAll: fails every `ready` still waiting (e.g. for a Redis that is down). */
  private readonly closed: Promise<never>;
  private rejectClosed: (err: Error) => void = () => undefined;

  constructor(private readonly hooks: TopicHooks = {}) {
    this.closed = new Promise<never>((_, reject) => {
      this.rejectClosed = reject;
    });
    this.closed.catch(() => undefined);
  }

  /** Hands a message to every listener of `topic`; `makePayload` is called once per listener. */
  deliver(topic: string, makePayload: () => Record<string, unknown>): void {
    const state = this.topics.get(topic);
    if (!state) return;
    for (const listener of [...state.listeners]) listener(makePayload);
  }

  subscribe(topic: string, signal?: AbortSignal): Subscription {
    if (signal?.aborted || this.closing) return endedSubscription();
    type Result = IteratorResult<Record<string, unknown>>;
    const buffered: Record<string, unknown>[] = [];
    const waiters: ((r: Result) => void)[] = [];
    let done = false;
    let markEnded: () => void = () => undefined;
    const ended = new Promise<void>((resolve) => {
      markEnded = resolve;
    });

    const listener: Listener = (makePayload) => {
      const value = makePayload();
      const waiter = waiters.shift();
      if (waiter) waiter({ value, done: false });
      else buffered.push(value);
    };
    let state = this.topics.get(topic);
    if (!state) {
      const hooked = this.hooks.subscribe?.(topic) ?? Promise.resolve();
      state = { listeners: new Set(), ready: Promise.race([hooked.then(() => undefined), this.closed]) };
      // Marked handled here: a failure surfaces through `ready` / `next()` to whoever awaits them.
      state.ready.catch(() => undefined);
      this.topics.set(topic, state);
    }
    state.listeners.add(listener);
    const ready = state.ready;

    const finish = async (): Promise<Result> => {
      if (done) return { value: undefined, done: true };
      done = true;
      markEnded();
      this.open.delete(finish);
      signal?.removeEventListener("abort", onAbort);
      buffered.length = 0;
      for (const w of waiters.splice(0)) w({ value: undefined, done: true });
      const current = this.topics.get(topic);
      if (current?.listeners.delete(listener) && current.listeners.size === 0) {
        this.topics.delete(topic);
        if (!this.closing) await this.hooks.unsubscribe?.(topic).catch(() => undefined);
      }
      return { value: undefined, done: true };
    };
    const onAbort = () => void finish();
    signal?.addEventListener("abort", onAbort, { once: true });
    this.open.add(finish);

    const subscription: Subscription = {
      ready,
      async next(): Promise<Result> {
        try {
          // Ending the subscription must not wait for a Redis that is down.
          await Promise.race([ready, ended]);
        } catch (e) {
          // Closed before Redis acknowledged the subscription: that is an ending, not a failure.
          if (done) return { value: undefined, done: true };
          throw e;
        }
        if (buffered.length > 0) return { value: buffered.shift()!, done: false };
        if (done) return { value: undefined, done: true };
        return new Promise((resolve) => waiters.push(resolve));
      },
      return: finish,
      async throw(err: unknown): Promise<Result> {
        await finish();
        throw err;
      },
      [Symbol.asyncIterator]() {
        return subscription;
      },
    };
    return subscription;
  }

  /** Ends every open subscription (pending `next()` calls resolve as done); later ones start ended. */
  async closeAll(): Promise<void> {
    this.closing = true;
    this.rejectClosed(new Error("pub/sub closed before the subscription was established"));
    await Promise.all([...this.open].map((finish) => finish()));
    this.topics.clear();
  }
}

/** A subscription that is over before it starts (closed adapter, or an already aborted signal). */
function endedSubscription(): Subscription {
  const subscription: Subscription = {
    ready: Promise.resolve(),
    next: async () => ({ value: undefined, done: true }),
    return: async () => ({ value: undefined, done: true }),
    async throw(err: unknown) {
      throw err;
    },
    [Symbol.asyncIterator]() {
      return subscription;
    },
  };
  return subscription;
}
