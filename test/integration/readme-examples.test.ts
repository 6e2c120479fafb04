/**
 * Every example in README.md runs as written, in order, against a fresh `npm start`: the real server
 * process on its embedded defaults (embedded PostgreSQL in a new DATA_DIR, demo stores seeded,
 * in-memory cache), nothing else set but the ports. The README's own convention says how
 * (see "The API by example"): `# headers:` and `# variables:` lines, `{{name}}` for a value an earlier
 * example's `# saves: name = path` line took from its response, `# expects: CODE` for an error shown on
 * purpose. Any other error or userError fails the test, naming the example's line.
 *
 * Subscriptions run over graphql-ws and must have received an event by the end (a later example
 * changes what they watch). `curl` commands in `sh` blocks run through the shell, with the server's
 * address for localhost:4000. GraphQL documents of the "Build a storefront" guide (gql`…` in `ts`
 * blocks) are parsed and validated against schema.graphql.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import {
  buildSchema,
  type DocumentNode,
  Kind,
  NoUnusedFragmentsRule,
  type OperationDefinitionNode,
  parse,
  specifiedRules,
  validate,
} from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FencedBlock, fencedBlocks } from "../support/markdown.js";
import {
  freePortInRange,
  PORT_SLICES,
  postGraphQL,
  type ServerProcess,
  spawnServer,
} from "../support/server-process.js";
import { openWs, type WsSession, type WsSubscription } from "../support/ws-client.js";

const README = readFileSync("README.md", "utf8");
const schema = buildSchema(readFileSync("schema.graphql", "utf8"));
const blocks = fencedBlocks(README);

interface Example {
  line: number;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  source: string;
  headers: string | undefined;
  variables: string | undefined;
  saves: { name: string; path: string }[];
  expects: string[];
}

const DIRECTIVE = /^#\s*(headers|variables|saves|expects):\s*(.*)$/;

function toExample(block: FencedBlock): Example {
  const directives = new Map<string, string>();
  for (const text of block.body.split("\n")) {
    const m = DIRECTIVE.exec(text.trim());
    if (m?.[1]) directives.set(m[1], m[2] ?? "");
  }
  const document = parse(block.body);
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  if (operations.length !== 1 || !operations[0]) {
    throw new Error(`README.md:${block.line}: an example holds exactly one operation`);
  }
  return {
    line: block.line,
    document,
    operation: operations[0],
    source: block.body,
    headers: directives.get("headers"),
    variables: directives.get("variables"),
    saves: (directives.get("saves") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)
      .map((s) => {
        const [name, p] = s.split("=").map((x) => x.trim());
        if (!name || !p) throw new Error(`README.md:${block.line}: "# saves: ${s}" is not name = path`);
        return { name, path: p };
      }),
    expects: (directives.get("expects") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

/** A graphql block of fragments only (shared selections, e.g. MoneyFields) is checked, not run. */
const onlyFragments = (b: FencedBlock) =>
  parse(b.body).definitions.every((d) => d.kind === Kind.FRAGMENT_DEFINITION);
const examples = blocks.filter((b) => b.lang === "graphql" && !onlyFragments(b)).map(toExample);
const fragmentBlocks = blocks.filter((b) => b.lang === "graphql" && onlyFragments(b));
const curls = blocks.filter((b) => b.lang === "sh" && /^\s*curl\s/m.test(b.body));

/** gql`…` documents of the ts blocks (the storefront guide). */
const guideDocuments = blocks
  .filter((b) => b.lang === "ts" || b.lang === "tsx")
  .flatMap((b) => [...b.body.matchAll(/gql`([^`]*)`/g)].map((m) => ({ line: b.line, source: m[1] ?? "" })));

/** `{{name}}` -> the saved value (as JSON text, so it lands inside the surrounding JSON string). */
function substitute(text: string, saved: Map<string, string>, line: number): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = saved.get(name);
    if (value === undefined) {
      throw new Error(`README.md:${line} uses {{${name}}}, which no earlier example saved`);
    }
    return JSON.stringify(value).slice(1, -1);
  });
}

function parseJson(text: string | undefined, what: string, line: number): Record<string, string> {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as Record<string, string>;
  } catch (e) {
    throw new Error(`README.md:${line}: "# ${what}:" is not JSON: ${String(e)}`);
  }
}

/** `data.a.b[0].c` in a response. */
function pick(value: unknown, pathText: string): unknown {
  let at: unknown = value;
  for (const part of pathText.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== "")) {
    if (at === null || typeof at !== "object") return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

/** Codes of every `userErrors` list anywhere in the data, and of the GraphQL errors. */
function errorCodes(response: { data?: unknown; errors?: { extensions?: { code?: string } }[] }): string[] {
  const codes: string[] = (response.errors ?? []).map((e) => e.extensions?.code ?? "NO_CODE");
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) walk(item);
      return;
    }
    if (v === null || typeof v !== "object") return;
    for (const [key, child] of Object.entries(v)) {
      if (key === "userErrors" && Array.isArray(child)) {
        for (const e of child) codes.push(String((e as { code?: unknown }).code ?? "NO_CODE"));
      } else walk(child);
    }
  };
  walk(response.data);
  return codes;
}

describe("README examples", () => {
  it("follow the README's convention and validate against schema.graphql", () => {
    expect(examples.length).toBeGreaterThan(20);
    expect(curls.length).toBeGreaterThan(0);
    expect(guideDocuments.length).toBeGreaterThan(5);
    for (const ex of examples) {
      expect(
        validate(schema, ex.document).map((e) => e.message),
        `README.md:${ex.line}`,
      ).toEqual([]);
      expect(ex.operation.name, `README.md:${ex.line}: name the operation`).toBeDefined();
      // Values from earlier answers go through variables, so the document pastes as it is.
      const body = ex.source
        .split("\n")
        .filter((l) => !l.trim().startsWith("#"))
        .join("\n");
      expect(body, `README.md:${ex.line}: {{…}} only in # headers / # variables`).not.toMatch(/\{\{/);
    }
    const names = examples.map((e) => e.operation.name?.value);
    expect(new Set(names).size, "operation names are unique").toBe(names.length);
  });

  it("the storefront guide's documents validate against schema.graphql", () => {
    // Fragments are shared through ${…} interpolation: the documents are validated as one, so
    // that every fragment is defined once and used, and every operation name is unique.
    const sources = guideDocuments.map((d) => ({ ...d, source: d.source.replace(/\$\{\w+\}/g, "") }));
    for (const doc of sources) {
      try {
        parse(doc.source);
      } catch (e) {
        throw new Error(`README.md:${doc.line}: ${String(e)}`);
      }
    }
    const all = parse(sources.map((d) => d.source).join("\n"));
    expect(validate(schema, all).map((e) => e.message)).toEqual([]);
  });

  it("fragments shown on their own are valid selections of schema.graphql", () => {
    for (const block of fragmentBlocks) {
      // Alone, a fragment is "never used"; every other rule applies (fields exist on the type).
      const rules = specifiedRules.filter((rule) => rule !== NoUnusedFragmentsRule);
      const errors = validate(schema, parse(block.body), rules).map((e) => e.message);
      expect(errors, `README.md:${block.line}`).toEqual([]);
    }
  });

  describe("against a fresh npm start", () => {
    let dataDir: string;
    let server: ServerProcess;
    let port: number;
    const sockets: WsSession[] = [];
    const subscriptions: { line: number; sub: WsSubscription<Record<string, unknown>> }[] = [];

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(tmpdir(), "cartograph-readme-"));
      // What `npm start` sets: nothing. Only the ports (this machine is shared) and the data directory.
      server = spawnServer({
        DATA_DIR: dataDir,
        PORT: String(await freePortInRange(PORT_SLICES.readmeExamples)),
        EMBEDDED_PG_PORT: String(await freePortInRange(PORT_SLICES.readmeExamples)),
      });
      port = await server.ready(90_000);
    }, 120_000);

    afterAll(async () => {
      for (const s of subscriptions) s.sub.stop();
      for (const socket of sockets) await socket.close();
      const exit = await server?.stop();
      expect(exit?.code).toBe(0);
      await rm(dataDir, { recursive: true, force: true });
    }, 60_000);

    it("runs every curl command", async () => {
      const run = promisify(execFile);
      for (const block of curls) {
        const command = block.body.replaceAll("http://localhost:4000", `http://127.0.0.1:${port}`);
        const { stdout } = await run("sh", ["-c", command], { timeout: 20_000 });
        const answer = JSON.parse(stdout) as { data?: unknown; errors?: unknown };
        expect(answer.errors, `README.md:${block.line}`).toBeUndefined();
        expect(answer.data, `README.md:${block.line}`).toBeTruthy();
      }
    });

    it("runs every GraphQL example in order, with the answers the README shows", async () => {
      const saved = new Map<string, string>([
        ["demoStaffPassword", (await readFile(path.join(dataDir, "demo-staff-password"), "utf8")).trim()],
      ]);
      for (const ex of examples) {
        const where = `README.md:${ex.line} (${ex.operation.name?.value})`;
        const headers = parseJson(ex.headers && substitute(ex.headers, saved, ex.line), "headers", ex.line);
        const variables = parseJson(
          ex.variables && substitute(ex.variables, saved, ex.line),
          "variables",
          ex.line,
        );

        if (ex.operation.operation === "subscription") {
          const socket = await openWs(`ws://127.0.0.1:${port}/graphql`, {
            store: headers["x-store"],
            authorization: headers.authorization,
          });
          sockets.push(socket);
          subscriptions.push({ line: ex.line, sub: socket.subscribe(ex.source, variables) });
          // The server subscribes after checking the caller may watch this (a read): let it finish
          // before the example that causes the event runs.
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }

        const response = await postGraphQL(port, ex.source, variables, headers);
        const codes = errorCodes(response);
        if (ex.expects.length === 0) {
          expect(codes, `${where}: ${JSON.stringify(response)}`).toEqual([]);
        } else {
          expect([...new Set(codes)].sort(), `${where}: ${JSON.stringify(response)}`).toEqual(
            [...ex.expects].sort(),
          );
        }
        for (const save of ex.saves) {
          const value = pick(response, save.path);
          expect(typeof value, `${where}: ${save.path} in ${JSON.stringify(response)}`).toBe("string");
          saved.set(save.name, value as string);
        }
      }

      // Each subscription saw what a later example did, and nothing went wrong on it.
      for (const { line, sub } of subscriptions) {
        const events = await sub.waitFor(1, 10_000).catch(() => sub.events);
        expect(events.length, `README.md:${line}: no event arrived`).toBeGreaterThan(0);
        for (const event of events) {
          expect(event.errors ?? event.closed, `README.md:${line}: ${JSON.stringify(event)}`).toBeUndefined();
          expect(event.data, `README.md:${line}`).toBeTruthy();
        }
      }
    }, 120_000);
  });
});
