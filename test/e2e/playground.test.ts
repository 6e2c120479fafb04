/**
 * The integrators' playground in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * the page and every asset come from our own server, GraphiQL runs a products query with headers edited
 * in its headers tab, the schema docs open, and a subscription goes over graphql-ws with
 * connectionParams `{ store, authorization }` built from those headers.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StoreRef } from "../../src/services/context.js";
import { createGuest, createProduct, createStaff, createStore } from "../support/fixtures.js";
import { useTestApp } from "../support/test-app.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = path.resolve("test/e2e/__screenshots__");
// Only a developer machine without Chromium may skip; CI installs it and must run this (and fail without it).
const skipReason =
  !existsSync(CHROMIUM) && process.env.CI !== "true"
    ? ` (skipped: no Chromium at ${CHROMIUM}; run apt-get install -y chromium)`
    : "";

const QUERY_EDITOR = ".graphiql-query-editor .CodeMirror";
const HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror";
const RESULT = ".graphiql-response .result-window .CodeMirror";
const PRODUCTS_QUERY = "query PlaygroundProducts { products(first: 5) { edges { node { name } } } }";
const WAIT = { timeout: 20_000, interval: 100 };

/** CodeMirror 5 keeps its editor object on the wrapper element (typed here: this project has no DOM lib). */
type CodeMirrorElement = { CodeMirror: { getValue(): string; setValue(v: string): void } };

const editorValue = (page: Page, selector: string): Promise<string> =>
  page.$eval(selector, (el) => (el as unknown as CodeMirrorElement).CodeMirror.getValue());

async function setEditor(page: Page, selector: string, value: string): Promise<void> {
  await page.locator(selector).waitFor();
  await page.$eval(selector, (el, v) => (el as unknown as CodeMirrorElement).CodeMirror.setValue(v), value);
}

async function showHeaders(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Headers", exact: true }).click();
}

/**
 * Replaces the query and runs it once GraphiQL has taken it in: the tab takes the operation's name when
 * GraphiQL has parsed the edit (it does so shortly after a change, as when a person types).
 */
async function runOperation(page: Page, operationName: string, document: string): Promise<void> {
  await setEditor(page, QUERY_EDITOR, document);
  await page.locator(".graphiql-tab-button", { hasText: operationName }).waitFor({ timeout: 20_000 });
  await page.getByRole("button", { name: /^Execute query/ }).click();
}

describe.skipIf(skipReason !== "")(`playground in headless Chromium${skipReason}`, () => {
  const t = useTestApp();
  const suffix = randomBytes(3).toString("hex");
  // Two stores, each with its own product: which one the result shows proves the x-store header was sent.
  const shops = {
    a: { handle: `pg-a-${suffix}`, name: "Playground A", product: `Alpha lamp ${suffix}` },
    b: { handle: `pg-b-${suffix}`, name: "Playground B", product: `Beta kettle ${suffix}` },
  };
  let storeB: StoreRef;
  let variantB: string;
  let userDataDir: string;
  let context: BrowserContext;
  let page: Page;
  const requested: string[] = [];
  const uncaught: string[] = [];
  const cspViolations: string[] = [];
  const wsFramesSent: string[] = [];
  const wsFramesReceived: string[] = [];

  beforeAll(async () => {
    for (const shop of [shops.a, shops.b]) {
      const store = await createStore(t.app, { handle: shop.handle, name: shop.name });
      const created = await createProduct(t.app, store, { name: shop.product });
      if (shop === shops.b) {
        storeB = store;
        variantB = created.variants[0]?.id ?? "";
      }
    }

    userDataDir = await mkdtemp(path.join(tmpdir(), "cartograph-chromium-"));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
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
    context.on("request", (r) => requested.push(r.url()));
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => uncaught.push(e.message));
    page.on("console", (m) => {
      if (m.text().includes("Content Security Policy")) cspViolations.push(m.text());
    });
    page.on("websocket", (ws) => {
      requested.push(ws.url());
      ws.on("framesent", (f) => wsFramesSent.push(String(f.payload)));
      ws.on("framereceived", (f) => wsFramesReceived.push(String(f.payload)));
    });
    await mkdir(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await context?.close();
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  });

  it("serves the page and every asset itself, with content types and cache headers", async () => {
    const pageRes = await fetch(t.app.url, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(pageRes.status).toBe(200);
    expect(pageRes.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(pageRes.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await pageRes.text();
    const refs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(refs.length).toBeGreaterThanOrEqual(7);
    for (const ref of refs) expect(ref).toMatch(/^(playground\/[\w.-]+\?v=[0-9a-f]{16}|data:,)$/);
    expect(html).not.toMatch(/https?:\/\//);

    for (const ref of refs.filter((r) => r.startsWith("playground/"))) {
      const assetUrl = new URL(ref, t.app.url);
      const res = await fetch(assetUrl);
      expect(res.status, ref).toBe(200);
      expect(res.headers.get("content-type")).toMatch(
        ref.includes(".css") ? /^text\/css; charset=utf-8$/ : /^text\/javascript; charset=utf-8$/,
      );
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
      const etag = res.headers.get("etag") ?? "";
      const again = await fetch(assetUrl, { headers: { "if-none-match": etag } });
      expect(again.status).toBe(304);
      // Any other version of the URL is served but must be revalidated.
      const unversioned = await fetch(new URL(assetUrl.pathname, t.app.url));
      expect(unversioned.headers.get("cache-control")).toBe("no-cache");
      await unversioned.arrayBuffer();
    }

    // GraphiQL's source map, for devtools (only fetched when they are open).
    const map = await fetch(new URL("/playground/index.umd.js.map", t.app.url));
    expect(map.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(((await map.json()) as { version: number }).version).toBe(3);
    for (const nope of ["/playground/nope.js", "/playground/toString", "/playground/__proto__"]) {
      const missing = await fetch(new URL(nope, t.app.url));
      expect(missing.status, nope).toBe(404);
      await missing.text();
    }
    const post = await fetch(new URL("/playground/app.js", t.app.url), { method: "POST" });
    expect(post.status).toBe(405);
    await post.text();

    // A GET of /graphql that does not ask for HTML is still GraphQL.
    const api = await fetch(`${t.app.url}?query=${encodeURIComponent("{ store { handle } }")}`, {
      // Apollo's CSRF prevention wants a preflight-forcing header on GET.
      headers: { accept: "application/json", "x-store": shops.a.handle, "apollo-require-preflight": "1" },
    });
    expect(api.headers.get("content-type")).toMatch(/json/);
    expect(await api.json()).toEqual({ data: { store: { handle: shops.a.handle } } });
  });

  it("loads GraphiQL with an example query and default headers", async () => {
    await page.goto(t.app.url);
    await page.locator(QUERY_EDITOR).waitFor({ timeout: 20_000 });
    expect(await editorValue(page, QUERY_EDITOR)).toContain("products(first: 5)");
    await showHeaders(page);
    expect(JSON.parse(await editorValue(page, HEADERS_EDITOR))).toEqual({ "x-store": "demo" });
  });

  it("opens a shared link's query in the editor", async () => {
    const shared = "query SharedLink { store { handle } }";
    await page.goto(`${t.app.url}?query=${encodeURIComponent(shared)}`);
    await expect.poll(() => editorValue(page, QUERY_EDITOR), WAIT).toBe(shared);
    await page.goto(t.app.url);
    await page.locator(QUERY_EDITOR).waitFor();
  });

  it("runs a products query with the headers edited in the headers tab and shows the result", async () => {
    await showHeaders(page);
    await setEditor(page, HEADERS_EDITOR, JSON.stringify({ "x-store": shops.b.handle }, null, 2));
    await runOperation(page, "PlaygroundProducts", PRODUCTS_QUERY);
    await expect.poll(() => editorValue(page, RESULT), WAIT).toContain(shops.b.product);
    const result = JSON.parse(await editorValue(page, RESULT));
    expect(result).toEqual({ data: { products: { edges: [{ node: { name: shops.b.product } }] } } });
    await page.screenshot({ path: path.join(SCREENSHOTS, "playground-products.png") });
  });

  it("opens the schema docs and shows a type", async () => {
    // The first schema fetch went out with the default "demo" store, which this database lacks.
    await page.getByRole("button", { name: "Re-fetch GraphQL schema" }).click();
    await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
    const docs = page.locator(".graphiql-doc-explorer");
    const title = docs.locator(".graphiql-doc-explorer-title");
    // The root types list: "query: Query".
    await docs
      .locator("a.graphiql-doc-explorer-type-name", { hasText: /^Query$/ })
      .first()
      .click();
    await expect.poll(() => title.textContent(), WAIT).toBe("Query");
    await docs
      .locator(".graphiql-doc-explorer-field-name", { hasText: /^products$/ })
      .waitFor({ timeout: 20_000 });
    // The field `store: Store!` links to its type's page.
    await docs
      .locator(".graphiql-doc-explorer-type-name", { hasText: /^Store$/ })
      .first()
      .click();
    await expect.poll(() => title.textContent(), WAIT).toBe("Store");
    const content = docs.locator(".graphiql-doc-explorer-content");
    await expect
      .poll(() => content.textContent(), WAIT)
      .toContain("A shop: its own catalog, customers, carts and orders.");
    expect(await docs.locator(".graphiql-doc-explorer-field-name").allInnerTexts()).toEqual(
      expect.arrayContaining(["handle", "name", "currencyCode"]),
    );
    await page.screenshot({ path: path.join(SCREENSHOTS, "playground-docs.png") });
  });

  it("sends subscriptions over graphql-ws to the same host with connectionParams from the headers", async () => {
    // A guest token is bound to store B: the server accepts the socket only if both params arrived.
    const token = await t.app.runtime.services.deps.tokens.sign({
      typ: "guest",
      sub: randomUUID(),
      store: storeB.id,
    });
    await showHeaders(page);
    await setEditor(
      page,
      HEADERS_EDITOR,
      JSON.stringify({ "x-store": shops.b.handle, authorization: `Bearer ${token}` }, null, 2),
    );
    await runOperation(page, "Probe", "subscription Probe { __typename }");
    await expect.poll(() => wsFramesReceived.some((f) => f.includes('"connection_ack"')), WAIT).toBe(true);
    const init = wsFramesSent.map((f) => JSON.parse(f)).find((m) => m.type === "connection_init");
    expect(init?.payload).toEqual({ store: shops.b.handle, authorization: `Bearer ${token}` });
    const wsUrl = requested.find((u) => u.startsWith("ws:"));
    expect(wsUrl).toBe(t.app.wsUrl);
    // The server's own answer over the socket is shown: __typename is no subscription field, so it is a
    // GraphQL error about the subscription (not a transport failure).
    await expect.poll(() => editorValue(page, RESULT), WAIT).toMatch(/"message": "[^"]*subscription/i);
    expect(await editorValue(page, RESULT)).not.toContain("WebSocket closed");
    await page.screenshot({ path: path.join(SCREENSHOTS, "playground-subscription.png") });
  });

  it("streams a live subscription (cartPriceChanged) into the result pane", async (ctx) => {
    const schema = await t.app.ok<{ __schema: { subscriptionType: { fields: { name: string }[] } | null } }>(
      "{ __schema { subscriptionType { fields { name } } } }",
      {},
      { store: shops.b.handle },
    );
    const fields = schema.__schema.subscriptionType?.fields.map((f) => f.name) ?? [];
    // Subscriptions are being built alongside this test; once they land this must run (drop the skip).
    if (!fields.includes("cartPriceChanged"))
      ctx.skip("Subscription.cartPriceChanged is not in the schema yet");

    const guest = await createGuest(t.app, storeB);
    const { cartCreate } = await t.app.ok<{ cartCreate: { cart: { id: string } } }>(
      "mutation ($v: ID!) { cartCreate(input: { lines: [{ variantId: $v, quantity: 1 }] }) { cart { id } } }",
      { v: variantB },
      { store: shops.b.handle, token: guest.token },
    );
    const staff = await createStaff(t.app, storeB);
    await showHeaders(page);
    await setEditor(
      page,
      HEADERS_EDITOR,
      JSON.stringify({ "x-store": shops.b.handle, authorization: `Bearer ${guest.token}` }, null, 2),
    );
    await runOperation(
      page,
      "PriceWatch",
      `subscription PriceWatch { cartPriceChanged(cartId: "${cartCreate.cart.id}") {
        cartId previousUnitPrice { amount } newUnitPrice { amount } } }`,
    );
    // The server starts listening only after the subscribe message arrives, which the page does not
    // reveal: keep making real price changes (bounded) until one streams into the result pane.
    const prices: number[] = [];
    for (let attempt = 1; attempt <= 10; attempt++) {
      const price = 3000 + attempt;
      prices.push(price);
      const updated = await t.app.ok<{ variantPriceUpdate: { userErrors: unknown[] } }>(
        "mutation ($v: ID!, $p: Int!) { variantPriceUpdate(variantId: $v, price: $p) { userErrors { message } } }",
        { v: variantB, p: price },
        { store: shops.b.handle, token: staff.token },
      );
      expect(updated.variantPriceUpdate.userErrors).toEqual([]);
      const arrived = await page
        .locator(RESULT, { hasText: "newUnitPrice" })
        .waitFor({ timeout: 3_000 })
        .then(
          () => true,
          () => false,
        );
      if (arrived) break;
    }
    const event = JSON.parse(await editorValue(page, RESULT)) as {
      data?: { cartPriceChanged: { cartId: string; newUnitPrice: { amount: number } } };
    };
    expect(event.data?.cartPriceChanged.cartId).toBe(cartCreate.cart.id);
    expect(prices).toContain(event.data?.cartPriceChanged.newUnitPrice.amount);
    await page.screenshot({ path: path.join(SCREENSHOTS, "playground-live-subscription.png") });
  }, 60_000);

  it("made no request to any host but our own server, and broke no rule of the page's CSP", () => {
    const origin = new URL(t.app.url);
    expect(requested.length).toBeGreaterThan(8);
    for (const url of requested) {
      const u = new URL(url);
      expect(u.protocol === "data:" || u.host === origin.host, url).toBe(true);
    }
    expect(cspViolations).toEqual([]);
    expect(uncaught).toEqual([]);
  });
});
