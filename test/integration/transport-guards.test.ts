/**
 * The same hostile operations over HTTP and over WebSocket must meet the same guards and get the same
 * answer: limits on depth, aliases, root mutations and complexity (introspection counted), the input
 * text check, the rate limit (one bucket per caller across both transports), error masking, and the
 * introspection switch with its "Did you mean" suggestions.
 */
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createStore } from "../support/fixtures.js";
import { createTestApp, type TestApp, useTestApp } from "../support/test-app.js";
import { openWs, type WsSession } from "../support/ws-client.js";

interface Outcome {
  code: string | undefined;
  message: string | undefined;
  data: unknown;
  field?: unknown;
}

async function overHttp(
  app: TestApp,
  query: string,
  variables: Record<string, unknown>,
  store: string,
  token?: string,
) {
  const res = await app.gql(query, variables, { store, token });
  const e = res.errors?.[0];
  return {
    code: e?.extensions?.code as string | undefined,
    message: e?.message,
    data: res.data ?? null,
    field: e?.extensions?.field,
  } satisfies Outcome;
}

async function overWs(session: WsSession, query: string, variables: Record<string, unknown>) {
  const res = await session.request(query, variables);
  const e = res.errors?.[0];
  return {
    code:
      (e?.extensions?.code as string | undefined) ?? (res.closed ? `CLOSED_${res.closed.code}` : undefined),
    message: e?.message,
    data: res.data ?? null,
    field: e?.extensions?.field,
  } satisfies Outcome;
}

const t = useTestApp();
let store: string;
let ws: WsSession;

beforeAll(async () => {
  store = (await createStore(t.app)).handle;
  ws = await openWs(t.app.wsUrl, { store });
});
afterAll(async () => {
  await ws?.close();
});

async function both(query: string, variables: Record<string, unknown> = {}): Promise<[Outcome, Outcome]> {
  return [await overHttp(t.app, query, variables, store), await overWs(ws, query, variables)];
}

describe("the same guards on HTTP and WebSocket", () => {
  it("refuses a query over the complexity budget", async () => {
    const wide = `{ products(first: 100) { edges { node { variants { product { variants { id sku } } } } } } }`;
    const [http, socket] = await both(wide);
    expect(http.code).toBe("QUERY_TOO_COMPLEX");
    expect(socket.code).toBe("QUERY_TOO_COMPLEX");
    expect(socket.data).toBeNull();
  });

  it("refuses a query that is too deep", async () => {
    const deep = `{ products(first: 1) { edges { node { variants { product { variants { product { variants { product { variants { product { variants { id } } } } } } } } } } } } }`;
    const [http, socket] = await both(deep);
    expect(http.code).toBe("QUERY_TOO_DEEP");
    expect(socket.code).toBe("QUERY_TOO_DEEP");
  });

  it("caps aliases per document, so 2,000 copies of introspection never run", async () => {
    const aliased = `{ ${Array.from({ length: 2000 }, (_, i) => `a${i}: __schema { types { name fields { name } } }`).join(" ")} }`;
    const [http, socket] = await both(aliased);
    // Refused by the alias cap or the one-__schema rule, whichever validation meets first.
    expect(["TOO_MANY_ALIASES", "QUERY_TOO_COMPLEX"]).toContain(http.code);
    expect(socket.code).toBe(http.code);
    expect(socket.data).toBeNull();
    const fiftyOne = `{ ${Array.from({ length: 51 }, (_, i) => `s${i}: store { id }`).join(" ")} }`;
    const [h2, s2] = await both(fiftyOne);
    expect([h2.code, s2.code]).toEqual(["TOO_MANY_ALIASES", "TOO_MANY_ALIASES"]);
  });

  it("counts introspection: the standard docs query runs, a second copy in one document does not", async () => {
    const [http, socket] = await both(
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }),
    );
    expect(http.code).toBeUndefined();
    expect(socket.code).toBeUndefined();
    expect((http.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(20);
    expect(socket.data).toEqual(http.data);
    const twice = `{ __schema { queryType { name } } b: __schema { types { name } } }`;
    const [h2, s2] = await both(twice);
    expect([h2.code, s2.code]).toEqual(["QUERY_TOO_COMPLEX", "QUERY_TOO_COMPLEX"]);
  });

  it("refuses more root mutation fields than allowed in one request", async () => {
    const many = `mutation { ${Array.from({ length: 6 }, (_, i) => `g${i}: guestSessionCreate { token }`).join(" ")} }`;
    const [http, socket] = await both(many);
    expect(http.code).toBe("TOO_MANY_MUTATIONS");
    expect(socket.code).toBe("TOO_MANY_MUTATIONS");
  });

  it("refuses NUL characters and lone surrogates in any string input, naming the field", async () => {
    const literal = `{ products(first: 1, query: "a\\u0000b") { edges { node { id } } } }`;
    const [h1, s1] = await both(literal);
    expect([h1.code, s1.code]).toEqual(["INVALID_INPUT", "INVALID_INPUT"]);
    expect(h1.field).toEqual(["query"]);
    expect(s1.field).toEqual(["query"]);

    const register = `mutation R($input: CustomerRegisterInput!) { customerRegister(input: $input) { token userErrors { code } } }`;
    const nul = { input: { email: "a@b.example", password: "long-enough-pw", firstName: "A\u0000" } };
    const [h2, s2] = await both(register, nul);
    expect([h2.code, s2.code]).toEqual(["INVALID_INPUT", "INVALID_INPUT"]);
    expect(h2.field).toEqual(["input", "firstName"]);
    expect(s2.field).toEqual(["input", "firstName"]);

    const surrogate = { input: { email: "a@b.example", password: "long-enough-pw", lastName: "x\ud800y" } };
    const [h3, s3] = await both(register, surrogate);
    expect([h3.code, s3.code]).toEqual(["INVALID_INPUT", "INVALID_INPUT"]);
    expect(h3.message).toMatch(/surrogate/);
    // Nothing was written: the email is still free.
    const ok = await t.app.ok<{ customerRegister: { userErrors: unknown[] } }>(
      register,
      { input: { email: "a@b.example", password: "long-enough-pw" } },
      { store },
    );
    expect(ok.customerRegister.userErrors).toEqual([]);
  });

  it("masks unexpected errors identically, never leaking SQL or its parameters", async () => {
    const catalog = t.app.runtime.services.catalog;
    const original = catalog.products.bind(catalog);
    catalog.products = async () => {
      throw new Error(
        `Failed query: select password_hash from customers where email = $1\nparams: victim@x.example`,
      );
    };
    try {
      const q = `{ products(first: 1) { edges { node { id } } } }`;
      const [http, socket] = await both(q);
      for (const outcome of [http, socket]) {
        expect(outcome.code).toBe("INTERNAL_SERVER_ERROR");
        expect(outcome.message).toBe("Internal server error");
        expect(JSON.stringify(outcome)).not.toMatch(/password_hash|victim/);
      }
    } finally {
      catalog.products = original;
    }
  });

  it("answers a subscription sent over HTTP with a clear error, and runs it over WebSocket", async () => {
    const sub = `subscription { cartPriceChanged(cartId: "00000000-0000-0000-0000-000000000000") { cartId } }`;
    const http = await overHttp(t.app, sub, {}, store);
    expect(http.code).toBe("SUBSCRIPTION_REQUIRES_WEBSOCKET");
    expect(http.message).toMatch(/WebSocket/);
    // Over WebSocket it runs and is refused for its own reason (no such cart), not for its transport.
    const socket = await overWs(ws, sub, {});
    expect(socket.code).toBe("NOT_FOUND");
  });

  it("refuses an oversized message on both transports", async () => {
    const pad = "x".repeat(300 * 1024);
    const http = await fetch(t.app.url, {
      method: "POST",
      headers: { "content-type": "application/json", "x-store": store },
      body: JSON.stringify({ query: `{ store { id } }`, variables: { pad } }),
    });
    expect(http.status).toBe(413);
    const own = await openWs(t.app.wsUrl, { store });
    const socket = await overWs(own, `query Q($pad: String) { store { id } }`, { pad });
    expect(socket.code).toBe("CLOSED_1009");
    await own.close();
  });
});

describe("one rate limit bucket per caller across transports", () => {
  let limited: TestApp;
  beforeAll(async () => {
    limited = await createTestApp({ env: { RATE_LIMIT_PER_MINUTE: "3" } });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("counts HTTP and WebSocket operations of one guest together, and keys nothing on the raw header", async () => {
    const s = (await createStore(limited)).handle;
    const { guestSessionCreate } = await limited.ok<{ guestSessionCreate: { token: string } }>(
      `mutation { guestSessionCreate { token } }`,
      {},
      { store: s },
    );
    const token = guestSessionCreate.token;
    const q = `{ store { id } }`;
    expect((await limited.gql(q, {}, { store: s, token })).status).toBe(200);
    expect(
      (await limited.gql(q, {}, { store: s, headers: { authorization: `bearer   ${token}` } })).status,
    ).toBe(200);
    const socket = await openWs(limited.wsUrl, { store: s, token });
    expect((await overWs(socket, q, {})).code).toBeUndefined();
    expect((await overWs(socket, q, {})).code).toBe("RATE_LIMITED");
    const http = await limited.gql(q, {}, { store: s, headers: { authorization: `BEARER ${token}` } });
    expect(http.status).toBe(429);
    expect(http.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    await socket.close();
  });

  it("limits a flood of junk tokens by address instead of growing a bucket per token", async () => {
    const s = (await createStore(limited)).handle;
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push((await limited.gql(`{ store { id } }`, {}, { store: s, token: `junk-${i}` })).status);
    }
    // 127.0.0.1 may have spent some of its budget on anonymous calls above; it runs out either way.
    expect(statuses.filter((x) => x === 401).length).toBeLessThanOrEqual(3);
    expect(statuses.at(-1)).toBe(429);
  });
});

describe("operations per WebSocket connection", () => {
  let capped: TestApp;
  beforeAll(async () => {
    capped = await createTestApp({ env: { WS_MAX_OPERATIONS_PER_CONNECTION: "2" } });
  });
  afterAll(async () => {
    await capped?.close();
  });

  it("refuses an operation past the cap while others run", async () => {
    const s = (await createStore(capped)).handle;
    const { guestSessionCreate } = await capped.ok<{ guestSessionCreate: { token: string } }>(
      `mutation { guestSessionCreate { token } }`,
      {},
      { store: s },
    );
    const { cartCreate } = await capped.ok<{ cartCreate: { cart: { id: string } } }>(
      `mutation { cartCreate { cart { id } } }`,
      {},
      { store: s, token: guestSessionCreate.token },
    );
    const socket = await openWs(capped.wsUrl, { store: s, token: guestSessionCreate.token });
    const sub = `subscription S($id: ID!) { cartPriceChanged(cartId: $id) { cartId } }`;
    const a = socket.subscribe(sub, { id: cartCreate.cart.id });
    const b = socket.subscribe(sub, { id: cartCreate.cart.id });
    const c = socket.subscribe(sub, { id: cartCreate.cart.id });
    const [third] = await c.waitFor(1);
    expect(third?.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
    expect(a.events).toEqual([]);
    expect(b.events).toEqual([]);
    a.stop();
    b.stop();
    await socket.close();
  });
});

describe("with introspection off", () => {
  let closed: TestApp;
  let socket: WsSession;
  let s: string;
  beforeAll(async () => {
    closed = await createTestApp({ env: { GRAPHQL_INTROSPECTION: "false" } });
    s = (await createStore(closed)).handle;
    socket = await openWs(closed.wsUrl, { store: s });
  });
  afterAll(async () => {
    await socket?.close();
    await closed?.close();
  });

  it("refuses __schema and drops 'Did you mean' suggestions on both transports", async () => {
    const intro = `{ __schema { types { name } } }`;
    const [h1, s1] = [await overHttp(closed, intro, {}, s), await overWs(socket, intro, {})];
    expect(h1.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(s1.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(h1.message).toMatch(/introspection/i);
    const typo = `{ prodcts(first: 1) { edges { node { id } } } }`;
    const [h2, s2] = [await overHttp(closed, typo, {}, s), await overWs(socket, typo, {})];
    for (const outcome of [h2, s2]) {
      expect(outcome.message).toMatch(/Cannot query field "prodcts"/);
      expect(outcome.message).not.toMatch(/Did you mean/);
    }
  });

  it("still suggests fields when introspection is on", async () => {
    const typo = `{ prodcts(first: 1) { edges { node { id } } } }`;
    expect((await overHttp(t.app, typo, {}, store)).message).toMatch(/Did you mean "products"/);
  });
});
