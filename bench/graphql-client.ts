/**
 * A lean GraphQL-over-HTTP client on node:http with keep-alive sockets: the driver shares the machine
 * with the server, so it must spend as little CPU per request as it can (fetch costs noticeably more).
 */
import { Agent, request } from "node:http";

export interface GraphQLResponse<T> {
  status: number;
  data: T | null;
  errors: { message: string; extensions?: { code?: string } }[];
  /** x-sql-statements, sent by a server running with NODE_ENV=test. */
  sqlStatements?: number;
}

export interface GraphQLClientOptions {
  url: string;
  store: string;
  /** Sockets kept open: one per concurrent client. */
  sockets: number;
  timeoutMs?: number;
}

export class GraphQLClient {
  private readonly agent: Agent;
  private readonly target: URL;

  constructor(private readonly opts: GraphQLClientOptions) {
    this.target = new URL("/graphql", opts.url);
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.sockets, maxFreeSockets: opts.sockets });
  }

  post<T>(
    query: string,
    variables: Record<string, unknown>,
    token?: string,
    extraHeaders?: Record<string, string>,
  ): Promise<GraphQLResponse<T>> {
    const body = JSON.stringify({ query, variables });
    const headers: Record<string, string | number> = {
      ...extraHeaders,
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      "x-store": this.opts.store,
    };
    if (token) headers.authorization = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      const req = request(
        this.target,
        { method: "POST", agent: this.agent, headers, timeout: this.opts.timeoutMs ?? 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", reject);
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            const statements = res.headers["x-sql-statements"];
            let parsed: { data?: T | null; errors?: GraphQLResponse<T>["errors"] };
            try {
              parsed = JSON.parse(text) as typeof parsed;
            } catch {
              parsed = { errors: [{ message: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` }] };
            }
            resolve({
              status: res.statusCode ?? 0,
              data: parsed.data ?? null,
              errors: parsed.errors ?? [],
              ...(typeof statements === "string" ? { sqlStatements: Number(statements) } : {}),
            });
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error("request timed out")));
      req.on("error", reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Unwraps a response whose data must be there, for setup steps: any error stops the run. */
export function expectData<T>(res: GraphQLResponse<T>, what: string): T {
  if (res.errors.length > 0 || res.data === null) {
    const detail = res.errors.map((e) => e.extensions?.code ?? e.message).join(", ");
    throw new Error(`${what} failed (HTTP ${res.status}): ${detail || "no data"}`);
  }
  return res.data;
}
