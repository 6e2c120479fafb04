/**
 * The integrators' GraphiQL playground, served entirely by this server so it works with no internet:
 * GraphiQL's UMD build (graphiql 4, CodeMirror based, fonts inlined as data: URLs), React 18's UMD
 * builds and graphql-ws's UMD client are read from node_modules, plus our small browser script. No
 * build step: the files ship ready in the packages, so `npm start` pays nothing for the playground.
 *
 * A browser GET of /graphql gets the page; its assets live under /playground/. Asset URLs carry a
 * content hash (`?v=`), so a matching request is cached for a year and a new release busts it.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { PLAYGROUND_CLIENT_JS } from "./playground-client.js";

const ASSET_PREFIX = "/playground/";
const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";

/** Page layout only; GraphiQL's own stylesheet does the rest. */
const PAGE_CSS = `html, body { height: 100%; margin: 0; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
#graphiql { height: 100vh; }
#graphiql > .loading { padding: 2rem; color: #555; }
`;

type Source = { package: string; file: string } | { text: string };

/** Every file the page needs, by the name it has under /playground/. */
const SOURCES: Record<string, { type: string; source: Source }> = {
  "react.js": { type: JS, source: { package: "react", file: "umd/react.production.min.js" } },
  "react-dom.js": { type: JS, source: { package: "react-dom", file: "umd/react-dom.production.min.js" } },
  "graphiql.js": { type: JS, source: { package: "graphiql", file: "graphiql.min.js" } },
  "graphiql.css": { type: CSS, source: { package: "graphiql", file: "graphiql.min.css" } },
  "graphql-ws.js": { type: JS, source: { package: "graphql-ws", file: "umd/graphql-ws.min.js" } },
  "app.js": { type: JS, source: { text: PLAYGROUND_CLIENT_JS } },
  "page.css": { type: CSS, source: { text: PAGE_CSS } },
  // graphiql.min.js ends with `sourceMappingURL=index.umd.js.map`; browsers only fetch it with devtools open.
  "index.umd.js.map": { type: JSON_TYPE, source: { package: "graphiql", file: "graphiql.min.js.map" } },
};

/** Loaded before the page script, in this order (the UMD builds read each other's globals). */
const PAGE_SCRIPTS = ["react.js", "react-dom.js", "graphiql.js", "graphql-ws.js", "app.js"];
const PAGE_STYLES = ["graphiql.css", "page.css"];

interface Asset {
  body: Buffer;
  type: string;
  /** Short content hash: the `?v=` of the asset's URL and its ETag. */
  version: string;
  gzipped?: Promise<Buffer>;
}

const requireFromHere = createRequire(import.meta.url);
const gzipAsync = promisify(gzip);

function packageFile(pkg: string, file: string): string {
  return path.join(path.dirname(requireFromHere.resolve(`${pkg}/package.json`)), file);
}

const hashOf = (body: Buffer | string): string =>
  createHash("sha256").update(body).digest("hex").slice(0, 16);

const loading = new Map<string, Promise<Asset>>();

/** Reads an asset once per process, on first use (the source map only if devtools ask for it). */
function loadAsset(name: string): Promise<Asset> | undefined {
  if (!Object.hasOwn(SOURCES, name)) return undefined;
  const spec = SOURCES[name];
  if (!spec) return undefined;
  let asset = loading.get(name);
  if (!asset) {
    const { type, source } = spec;
    asset = (async () => {
      const body =
        "text" in source
          ? Buffer.from(source.text, "utf8")
          : await readFile(packageFile(source.package, source.file));
      return { body, type, version: hashOf(body) };
    })();
    // A failed read (a package missing from node_modules) is retried on the next request.
    asset.catch(() => loading.delete(name));
    loading.set(name, asset);
  }
  return asset;
}

/** A browser navigating to /graphql asks for HTML; API clients ask for JSON. */
export function wantsPlayground(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html");
}

/**
 * With `page` unset: serves /playground/* assets and returns true, or returns false for any other path.
 * With `page` true: serves the playground HTML (the caller checked it is a browser GET of /graphql).
 */
export function servePlayground(req: IncomingMessage, res: ServerResponse, url: URL, page = false): boolean {
  if (page) {
    respond(res, () => sendPage(req, res));
    return true;
  }
  if (!url.pathname.startsWith(ASSET_PREFIX)) return false;
  respond(res, () => sendAsset(req, res, url));
  return true;
}

function respond(res: ServerResponse, send: () => Promise<void>): void {
  send().catch((err: unknown) => {
    if (res.headersSent) {
      res.destroy(err instanceof Error ? err : undefined);
      return;
    }
    res.statusCode = 500;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end(`The playground could not be served: ${err instanceof Error ? err.message : String(err)}`);
  });
}

async function sendAsset(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.statusCode = 405;
    res.setHeader("allow", "GET, HEAD");
    res.end();
    return;
  }
  const asset = await loadAsset(url.pathname.slice(ASSET_PREFIX.length));
  if (!asset) {
    res.statusCode = 404;
    res.setHeader("content-type", "text/plain; charset=utf-8");
    res.end("No such playground asset");
    return;
  }
  const etag = `"${asset.version}"`;
  res.setHeader("content-type", asset.type);
  res.setHeader("etag", etag);
  res.setHeader("vary", "accept-encoding");
  res.setHeader("x-content-type-options", "nosniff");
  // Only the URL naming this exact content may be cached for good; anything else revalidates.
  res.setHeader(
    "cache-control",
    url.searchParams.get("v") === asset.version ? "public, max-age=31536000, immutable" : "no-cache",
  );
  const ifNoneMatch = String(req.headers["if-none-match"] ?? "").split(",");
  if (ifNoneMatch.some((tag) => tag.trim().replace(/^W\//, "") === etag)) {
    res.statusCode = 304;
    res.end();
    return;
  }
  let body = asset.body;
  if (/\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""))) {
    asset.gzipped ??= gzipAsync(asset.body);
    body = await asset.gzipped;
    res.setHeader("content-encoding", "gzip");
  }
  res.setHeader("content-length", body.length);
  res.end(req.method === "HEAD" ? undefined : body);
}

/** Everything the page loads is ours; the CSP makes the browser refuse anything else. */
const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // GraphiQL and CodeMirror position things with style attributes.
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self' data:",
  "img-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

async function sendPage(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const names = [...PAGE_STYLES, ...PAGE_SCRIPTS];
  const loaded = await Promise.all(names.map((name) => loadAsset(name)));
  const versions = new Map(names.map((name, i) => [name, loaded[i]?.version ?? ""]));
  // Relative URLs: /graphql -> /playground/..., and still right behind a proxy that adds a path prefix.
  const href = (name: string) => `playground/${name}?v=${versions.get(name)}`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cartograph GraphQL playground</title>
<link rel="icon" href="data:,">
${PAGE_STYLES.map((name) => `<link rel="stylesheet" href="${href(name)}">`).join("\n")}
</head>
<body>
<div id="graphiql"><div class="loading">Loading the GraphQL playground…</div></div>
${PAGE_SCRIPTS.map((name) => `<script src="${href(name)}"></script>`).join("\n")}
</body>
</html>
`;
  const body = Buffer.from(html, "utf8");
  res.statusCode = 200;
  res.setHeader("content-type", "text/html; charset=utf-8");
  res.setHeader("cache-control", "no-cache");
  res.setHeader("content-security-policy", PAGE_CSP);
  res.setHeader("x-content-type-options", "nosniff");
  res.setHeader("referrer-policy", "no-referrer");
  res.setHeader("content-length", body.length);
  res.end(req.method === "HEAD" ? undefined : body);
}
