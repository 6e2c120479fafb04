/**
 * CORS as a browser enforces it (Debian's `chromium`, driven by playwright-core): a storefront page
 * served from another origin (its own tiny HTTP server) calls the API with fetch — a query, a mutation
 * with an Authorization header (a preflight) — and opens a graphql-ws socket; the same page is refused by
 * a server whose CORS_ORIGINS does not list it, and a simple cross-origin request (no preflight) is still
 * stopped by the CSRF prevention. The servers record every request they receive, so what the browser
 * sent (the preflight, and nothing after a refused one) is checked on the server's side too.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProduct, createStore } from "../support/fixtures.js";
import { createTestApp, type TestApp } from "../support/test-app.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// Only a developer machine without Chromium may skip; CI installs it and must run this (and fail without it).
const skipReason =
  !existsSync(CHROMIUM) && process.env.CI !== "true"
    ? ` (skipped: no Chromium at ${CHROMIUM}; run apt-get install -y chromium)`
    : "";

interface Received {
  method: string;
  origin: string | undefined;
  requestHeaders: string | undefined;
  status: number;
  allowOrigin: string | undefined;
}

/** What a fetch made by the page came back as, or how it failed. */
interface PageFetch {
  ok: boolean;
  status?: number;
  body?: {
    data?: Record<string, Record<string, unknown> | null>;
    errors?: { message: string; extensions?: { code?: string } }[];
  };
  requestId?: string | null;
  error?: string;
}

/** Records every request a server receives, with what it answered (on the request's finish). */
function recordRequests(app: TestApp): Received[] {
  const received: Received[] = [];
  app.runtime.app.server.on("request", (req, res) => {
    res.on("finish", () => {
      const allow = res.getHeader("access-control-allow-origin");
      received.push({
        method: req.method ?? "",
        origin: req.headers.origin,
        requestHeaders: req.headers["access-control-request-headers"],
        status: res.statusCode,
        allowOrigin: typeof allow === "string" ? allow : undefined,
      });
    });
  });
  return received;
}

/** The storefront's own server: one HTML page on an origin of its own. */
async function servePage(): Promise<{ server: Server; origin: string }> {
  const server = createServer((_req, res) => {
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.end("<!doctype html><html><head><title>Storefront</title></head><body><h1>Shop</h1></body></html>");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  // "localhost", while the API is on "127.0.0.1": another host and another port, so another origin.
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

/** A POST of one GraphQL operation, made by the page (so under the page's origin). */
function pageFetch(
  page: Page,
  url: string,
  query: string,
  headers: Record<string, string>,
  variables: Record<string, unknown> = {},
): Promise<PageFetch> {
  return page.evaluate(
    async ({ url, query, headers, variables }) => {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ query, variables }),
        });
        return {
          ok: res.ok,
          status: res.status,
          body: (await res.json()) as PageFetch["body"],
          // Readable only because the server exposes it (Access-Control-Expose-Headers).
          requestId: res.headers.get("x-request-id"),
        };
      } catch (e) {
        return { ok: false, error: String(e) };
      }
    },
    { url, query, headers, variables },
  );
}

/** A simple request (text/plain, no custom header): the browser sends it without asking first. */
function pageSimplePost(page: Page, url: string, query: string): Promise<PageFetch> {
  return page.evaluate(
    async ({ url, query }) => {
      try {
        const res = await fetch(url, {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: JSON.stringify({ query }),
        });
        return { ok: res.ok, status: res.status, body: (await res.json()) as PageFetch["body"] };
      } catch (e) {
        return { ok: false, error: String(e) };
      }
    },
    { url, query },
  );
}

const STORE_QUERY = "query StorefrontStore { store { handle name currencyCode } }";
const GUEST_SESSION = "mutation StorefrontGuest { guestSessionCreate { token } }";
const CART_CREATE = `mutation StorefrontCart($variantId: ID!) {
  cartCreate(input: { lines: [{ variantId: $variantId, quantity: 1 }] }) {
    cart { id itemCount }
    userErrors { code message }
  }
}`;

describe.skipIf(skipReason !== "")(`CORS in headless Chromium${skipReason}`, () => {
  const handle = `cors-${Math.random().toString(16).slice(2, 8)}`;
  let allowing: TestApp;
  let refusing: TestApp;
  let allowingReceived: Received[];
  let refusingReceived: Received[];
  let variantId: string;
  let storefront: { server: Server; origin: string };
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // Development defaults (NODE_ENV=test): any localhost origin is allowed.
    allowing = await createTestApp();
    // Another server that lists only the shop's real domain: the localhost page is a stranger to it.
    refusing = await createTestApp({ env: { CORS_ORIGINS: "https://shop.example.com" } });
    allowingReceived = recordRequests(allowing);
    refusingReceived = recordRequests(refusing);
    for (const app of [allowing, refusing]) {
      const store = await createStore(app, { handle, name: "CORS shop" });
      const product = await createProduct(app, store, { name: "Lamp" });
      if (app === allowing) variantId = product.variants[0]?.id ?? "";
    }
    storefront = await servePage();

    userDataDir = await mkdtemp(path.join(tmpdir(), "cartograph-chromium-cors-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    context.setDefaultTimeout(15_000);
    page = context.pages()[0] ?? (await context.newPage());
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    await page.goto(`${storefront.origin}/`);
    expect(new URL(page.url()).origin).toBe(storefront.origin);
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
    await new Promise((resolve) => storefront?.server.close(resolve));
    await allowing?.close();
    await refusing?.close();
  });

  it("lets a page from another origin query the API", async () => {
    const result = await pageFetch(page, allowing.url, STORE_QUERY, { "x-store": handle });
    expect(result.error).toBeUndefined();
    expect(result.body).toEqual({ data: { store: { handle, name: "CORS shop", currencyCode: "USD" } } });
    expect(result.requestId).toMatch(/\S/);
    const post = allowingReceived.findLast((r) => r.method === "POST");
    expect(post).toMatchObject({ origin: storefront.origin, allowOrigin: storefront.origin, status: 200 });
  });

  it("lets it run a mutation with an Authorization header, after a preflight", async () => {
    const guest = await pageFetch(page, allowing.url, GUEST_SESSION, { "x-store": handle });
    const token = guest.body?.data?.guestSessionCreate?.token;
    expect(typeof token).toBe("string");

    const before = allowingReceived.length;
    // The browser caches a preflight's answer per URL (Access-Control-Max-Age), and the one for the
    // query above already allowed this header: another URL of the same endpoint makes it ask again.
    const cart = await pageFetch(
      page,
      `${allowing.url}?operation=cartCreate`,
      CART_CREATE,
      { "x-store": handle, authorization: `Bearer ${token}` },
      { variantId },
    );
    expect(cart.error).toBeUndefined();
    expect(cart.body?.errors).toBeUndefined();
    expect(cart.body?.data?.cartCreate).toMatchObject({ cart: { itemCount: 1 }, userErrors: [] });

    // The browser asked first (the Authorization header is not "simple"), then sent the mutation.
    const sent = allowingReceived.slice(before);
    const preflight = sent.find((r) => r.method === "OPTIONS");
    expect(preflight, JSON.stringify(sent)).toMatchObject({
      origin: storefront.origin,
      status: 204,
      allowOrigin: storefront.origin,
    });
    expect(preflight?.requestHeaders).toMatch(/authorization/);
    expect(sent.findIndex((r) => r.method === "POST")).toBeGreaterThan(sent.indexOf(preflight as Received));
  });

  it('refuses credentials: a fetch with credentials: "include" gets no answer it may read', async () => {
    const result = await page.evaluate(
      async ({ url, store }) => {
        try {
          const res = await fetch(url, {
            method: "POST",
            credentials: "include",
            headers: { "content-type": "application/json", "x-store": store },
            body: JSON.stringify({ query: "{ __typename }" }),
          });
          return { status: res.status };
        } catch (e) {
          return { error: String(e) };
        }
      },
      { url: `${allowing.url}?credentials=include`, store: handle },
    );
    expect(result).toEqual({ error: expect.stringMatching(/Failed to fetch/) });
  });

  it("lets it subscribe over graphql-ws (WebSocket is not subject to CORS; the token travels in connectionParams)", async () => {
    const guest = await pageFetch(page, allowing.url, GUEST_SESSION, { "x-store": handle });
    const token = guest.body?.data?.guestSessionCreate?.token;
    const frames = await page.evaluate(
      async ({ wsUrl, store, authorization }) =>
        new Promise<string[]>((resolve) => {
          const seen: string[] = [];
          const socket = new WebSocket(wsUrl, "graphql-transport-ws");
          socket.onopen = () =>
            socket.send(JSON.stringify({ type: "connection_init", payload: { store, authorization } }));
          socket.onmessage = (m) => {
            seen.push(String(m.data));
            socket.close();
          };
          socket.onerror = () => seen.push("error");
          socket.onclose = () => resolve(seen);
        }),
      { wsUrl: allowing.wsUrl, store: handle, authorization: `Bearer ${token}` },
    );
    expect(frames.map((f) => (f === "error" ? f : JSON.parse(f).type))).toEqual(["connection_ack"]);
  });

  it("keeps the CSRF prevention: a simple cross-origin POST (no preflight) is refused before it runs", async () => {
    const before = allowingReceived.length;
    const result = await pageSimplePost(page, allowing.url, GUEST_SESSION);
    // The origin is allowed, so the page may read the refusal; the mutation did not run.
    expect(result.status).toBe(400);
    expect(JSON.stringify(result.body)).toMatch(/Cross-Site Request Forgery/);
    const sent = allowingReceived.slice(before);
    expect(sent.map((r) => r.method)).toEqual(["POST"]);
  });

  it("is refused by a server whose CORS_ORIGINS does not list the page's origin", async () => {
    const query = await pageFetch(page, refusing.url, STORE_QUERY, { "x-store": handle });
    expect(query.error).toMatch(/Failed to fetch/);
    const mutation = await pageFetch(page, refusing.url, GUEST_SESSION, {
      "x-store": handle,
      authorization: "Bearer not-even-checked",
    });
    expect(mutation.error).toMatch(/Failed to fetch/);

    // The server answered the preflights without allowing anything, and so never saw the requests.
    expect(refusingReceived.length).toBeGreaterThanOrEqual(2);
    for (const r of refusingReceived) {
      expect(r).toMatchObject({ method: "OPTIONS", origin: storefront.origin, allowOrigin: undefined });
    }
    expect(consoleErrors.some((e) => /blocked by CORS policy/.test(e))).toBe(true);

    // A simple request is sent without asking, but the CSRF prevention refuses it and the page
    // cannot even read the refusal.
    const simple = await pageSimplePost(page, refusing.url, GUEST_SESSION);
    expect(simple.error).toMatch(/Failed to fetch/);
    expect(refusingReceived.at(-1)).toMatchObject({ method: "POST", status: 400, allowOrigin: undefined });
  });

  it("lets the shop's configured origin through the same server", async () => {
    // What the refusing server would answer the page it does list (checked without a browser: the
    // origin is a real domain this machine does not serve).
    const res = await fetch(refusing.url, {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-store",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example.com");
    expect(res.headers.get("access-control-allow-headers")).toMatch(/authorization/);
    // Tokens travel in a header, never in cookies: credentials are never allowed.
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });
});
