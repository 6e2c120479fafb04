/**
 * The playground's browser script, served as /playground/app.js. It runs after the React, ReactDOM,
 * GraphiQL and graphql-ws UMD globals are loaded and mounts GraphiQL with our own fetcher:
 * - queries and mutations go over HTTP POST to the page's own URL (the page IS the GraphQL endpoint),
 *   carrying the headers typed in GraphiQL's headers editor;
 * - subscriptions go over graphql-ws to the same URL with the ws(s) scheme, and the same headers become
 *   connectionParams `{ store, authorization }` (the API's WebSocket convention, not raw header names,
 *   which is why GraphiQL's stock createFetcher is not used).
 * It is plain browser JavaScript kept in a string, so it needs no build step and ships inside `dist` too.
 */

export const DEFAULT_QUERY = `# Welcome to the Cartograph playground.
#
# The Headers tab (below) goes with every request:
#   "x-store": "<store handle>"  (absent: default store)
#   "authorization": "Bearer <token>"  (customer,
#     guest session or staff token)
# Subscriptions use graphql-ws on this same URL with
# connectionParams { store, authorization }.
# Docs: book icon, top left. Run: Ctrl-Enter or ▶.

query StoreAndProducts {
  store {
    handle
    name
    currencyCode
  }
  products(first: 5) {
    edges {
      node {
        id
        name
        variants {
          title
          price {
            amount
            currencyCode
          }
          inStock
        }
      }
    }
  }
}
`;

export const DEFAULT_HEADERS = `{
  "x-store": "demo"
}`;

export const PLAYGROUND_CLIENT_JS = `"use strict";
(() => {
  const DEFAULT_QUERY = ${JSON.stringify(DEFAULT_QUERY)};
  const DEFAULT_HEADERS = ${JSON.stringify(DEFAULT_HEADERS)};

  // The page is served at the GraphQL endpoint itself, so the endpoint is the page's own path.
  const endpoint = new URL(window.location.pathname, window.location.href);
  const httpUrl = endpoint.href;
  const wsUrl = (endpoint.protocol === "https:" ? "wss://" : "ws://") + endpoint.host + endpoint.pathname;

  const headerValue = (headers, name) => {
    for (const [key, value] of Object.entries(headers || {})) {
      if (key.toLowerCase() === name && value !== undefined && value !== null && value !== "") return String(value);
    }
    return undefined;
  };

  const isSubscription = (params, documentAST) => {
    const operations = ((documentAST && documentAST.definitions) || []).filter(
      (d) => d.kind === "OperationDefinition",
    );
    if (operations.length > 0) {
      const chosen = params.operationName
        ? operations.find((d) => d.name && d.name.value === params.operationName)
        : operations[0];
      return !!chosen && chosen.operation === "subscription";
    }
    // No parsed document (e.g. the editor's content could not be parsed): fall back to the text.
    return /^\\s*subscription\\b/m.test(String(params.query || "").replace(/#.*$/gm, ""));
  };

  // One graphql-ws client per set of connection params; lazy clients close their socket when idle.
  const wsClients = new Map();
  const wsClientFor = (headers) => {
    const connectionParams = {};
    const store = headerValue(headers, "x-store");
    const authorization = headerValue(headers, "authorization");
    if (store) connectionParams.store = store;
    if (authorization) connectionParams.authorization = authorization;
    const key = JSON.stringify(connectionParams);
    let client = wsClients.get(key);
    if (!client) {
      client = graphqlWs.createClient({ url: wsUrl, connectionParams, lazy: true, retryAttempts: 2 });
      wsClients.set(key, client);
    }
    return client;
  };

  // graphql-ws rejects with a CloseEvent when the server refuses the connection; GraphiQL shows Errors.
  const asError = (e) => {
    if (e instanceof Error) return e;
    if (e && typeof e === "object" && "code" in e) {
      return new Error("WebSocket closed (" + e.code + (e.reason ? ": " + e.reason : "") + ")");
    }
    if (Array.isArray(e)) return new Error(e.map((x) => (x && x.message) || String(x)).join("\\n"));
    return new Error(String(e));
  };

  async function* subscribe(params, headers) {
    try {
      for await (const result of wsClientFor(headers).iterate(params)) yield result;
    } catch (e) {
      throw asError(e);
    }
  }

  const post = async (params, headers) => {
    const response = await fetch(httpUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        accept: "application/graphql-response+json, application/json",
        ...headers,
        "content-type": "application/json",
      },
      body: JSON.stringify(params),
    });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new Error("HTTP " + response.status + ": " + text.slice(0, 500));
    }
  };

  const fetcher = (params, options) => {
    const headers = (options && options.headers) || {};
    return isSubscription(params, options && options.documentAST) ? subscribe(params, headers) : post(params, headers);
  };

  // A shared link may carry ?query=...&variables=...&operationName=... (never headers: tokens do not
  // belong in URLs).
  const search = new URLSearchParams(window.location.search);
  const linked = {};
  if (search.get("query")) linked.query = search.get("query");
  if (search.get("variables")) linked.variables = search.get("variables");
  if (search.get("operationName")) linked.operationName = search.get("operationName");

  const container = document.getElementById("graphiql");
  container.textContent = "";
  const props = {
    fetcher,
    defaultQuery: DEFAULT_QUERY,
    defaultHeaders: DEFAULT_HEADERS,
    defaultTabs: [{ query: DEFAULT_QUERY, headers: DEFAULT_HEADERS }],
    defaultEditorToolsVisibility: "headers",
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
    ...linked,
  };
  ReactDOM.createRoot(container).render(
    React.createElement(GraphiQL, props, React.createElement(GraphiQL.Logo, null, "Cartograph")),
  );
})();
`;
