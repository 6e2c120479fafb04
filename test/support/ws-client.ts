/**
 * A real graphql-ws client for tests: one connection per `openWs`, authenticated with connectionParams
 * `{ store, authorization }` like a mobile app. `request` runs one operation and resolves with what
 * came back (data and/or errors, or the close that ended it); `subscribe` collects events.
 */
import { type Client, createClient } from "graphql-ws";
import WebSocket from "ws";
import { recordErrorCodes } from "./error-recorder.js";

export interface WsResult<T = Record<string, unknown>> {
  data?: T | null;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
  /** Set when the socket closed instead of answering. */
  closed?: { code: number; reason: string };
}

export interface WsSession {
  client: Client;
  request<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<WsResult<T>>;
  subscribe<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): WsSubscription<T>;
  close(): Promise<void>;
}

export interface WsSubscription<T> {
  events: WsResult<T>[];
  /** Resolves once `n` events (results or the final error) have arrived. */
  waitFor(n: number, timeoutMs?: number): Promise<WsResult<T>[]>;
  /** Resolves when the server ended the subscription (complete or error). */
  ended: Promise<WsResult<T> | null>;
  stop(): void;
}

function asResult(error: unknown): WsResult {
  if (Array.isArray(error)) return { errors: error as WsResult["errors"] };
  const e = error as { code?: number; reason?: string; message?: string };
  if (typeof e?.code === "number") return { closed: { code: e.code, reason: e.reason ?? "" } };
  return { errors: [{ message: e?.message ?? String(error) }] };
}

export async function openWs(
  url: string,
  params: { store?: string; token?: string; authorization?: string } = {},
): Promise<WsSession> {
  let connectionError: unknown;
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: false,
    retryAttempts: 0,
    connectionParams: {
      ...(params.store ? { store: params.store } : {}),
      ...(params.token ? { authorization: `Bearer ${params.token}` } : {}),
      ...(params.authorization ? { authorization: params.authorization } : {}),
    },
    onNonLazyError: (e) => {
      connectionError = e;
    },
  });
  await new Promise<void>((resolve, reject) => {
    const offConnected = client.on("connected", () => {
      offConnected();
      offClosed();
      resolve();
    });
    const offClosed = client.on("closed", (event) => {
      offConnected();
      offClosed();
      reject(
        Object.assign(new Error("websocket closed before it was acknowledged"), { event, connectionError }),
      );
    });
  });

  return {
    client,
    request(query, variables) {
      return new Promise((resolve) => {
        let last: WsResult | undefined;
        client.subscribe(
          { query, variables },
          {
            next: (value) => {
              last = value as WsResult;
            },
            error: (error) => resolve(asResult(error) as never),
            complete: () => {
              recordErrorCodes(query, last ?? {});
              resolve((last ?? {}) as never);
            },
          },
        );
      });
    },
    subscribe(query, variables) {
      const events: WsResult[] = [];
      const waiters: (() => void)[] = [];
      let endResolve: (v: WsResult | null) => void = () => undefined;
      const ended = new Promise<WsResult | null>((resolve) => {
        endResolve = resolve;
      });
      const notify = () => {
        for (const w of waiters.splice(0)) w();
      };
      const stop = client.subscribe(
        { query, variables },
        {
          next: (value) => {
            recordErrorCodes(query, value as WsResult);
            events.push(value as WsResult);
            notify();
          },
          error: (error) => {
            const result = asResult(error);
            events.push(result);
            notify();
            endResolve(result);
          },
          complete: () => endResolve(null),
        },
      );
      return {
        events: events as never,
        ended: ended as never,
        stop,
        async waitFor(n, timeoutMs = 5000) {
          const deadline = Date.now() + timeoutMs;
          while (events.length < n) {
            const left = deadline - Date.now();
            if (left <= 0) throw new Error(`timed out waiting for ${n} events, got ${events.length}`);
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              waiters.push(() => {
                clearTimeout(timer);
                resolve();
              });
            });
          }
          return events as never;
        },
      };
    },
    async close() {
      await client.dispose();
    },
  };
}
