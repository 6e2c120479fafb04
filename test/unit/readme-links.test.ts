/**
 * The README and the guides under docs/ stand alone in a clone: every relative link (and every
 * repository path named in code) resolves to a file of this repository, none climbs out of it with
 * `../`, and every `#anchor` names a heading of its target.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { headingAnchors, proseOnly } from "../support/markdown.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const docsDir = path.join(root, "docs");
const documents = [
  "README.md",
  ...(existsSync(docsDir)
    ? readdirSync(docsDir)
        .filter((f) => f.endsWith(".md"))
        .map((f) => `docs/${f}`)
    : []),
];

interface Link {
  document: string;
  line: number;
  target: string;
}

/** Inline links and images, reference definitions and HTML href/src, outside code. */
function linksOf(document: string): Link[] {
  const prose = proseOnly(readFileSync(path.join(root, document), "utf8"));
  const links: Link[] = [];
  prose.split("\n").forEach((text, i) => {
    const found = [
      ...[...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
      ...[...text.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/g)].map((m) => m[1]),
      ...[...text.matchAll(/\b(?:href|src)="([^"]+)"/g)].map((m) => m[1]),
    ];
    for (const target of found) if (target) links.push({ document, line: i + 1, target });
  });
  return links;
}

/** Repository paths named in inline code (`src/…`, `test/…`, `docs/…`): they must exist too. */
function codePathsOf(document: string): Link[] {
  const text = readFileSync(path.join(root, document), "utf8");
  const paths: Link[] = [];
  text.split("\n").forEach((line, i) => {
    for (const m of line.matchAll(/`((?:\.\.\/)*(?:src|test|docs|bench|scripts|\.ci)\/[\w./-]*)`/g)) {
      if (m[1]) paths.push({ document, line: i + 1, target: m[1] });
    }
  });
  return paths;
}

const EXTERNAL = /^(https?:|mailto:)/i;

function resolveInRepo(link: Link): { file: string; anchor: string | undefined; problem?: string } {
  const [pathPart = "", anchor] = link.target.split("#", 2);
  if (/^[a-z][a-z0-9+.-]*:/i.test(pathPart)) return { file: "", anchor, problem: "not a repository path" };
  if (pathPart.startsWith("/")) return { file: "", anchor, problem: "an absolute path" };
  const from =
    pathPart === "" ? path.join(root, link.document) : path.join(root, path.dirname(link.document));
  const file = pathPart === "" ? from : path.resolve(from, decodeURIComponent(pathPart));
  const inside = path.relative(root, file);
  if (inside.startsWith("..") || path.isAbsolute(inside)) {
    return { file, anchor, problem: "outside the repository" };
  }
  if (!existsSync(file)) return { file, anchor, problem: "missing" };
  return { file, anchor };
}

describe("README and docs/ stand alone", () => {
  it("has documents to check", () => {
    expect(documents).toContain("README.md");
    expect(linksOf("README.md").length).toBeGreaterThan(0);
  });

  for (const document of documents) {
    it(`${document}: every relative link resolves to a file of the repository`, () => {
      const problems: string[] = [];
      for (const link of linksOf(document)) {
        if (EXTERNAL.test(link.target)) continue;
        const { file, anchor, problem } = resolveInRepo(link);
        if (problem) {
          problems.push(`${link.document}:${link.line} → ${link.target} (${problem})`);
          continue;
        }
        if (anchor && file.endsWith(".md") && statSync(file).isFile()) {
          const anchors = headingAnchors(readFileSync(file, "utf8"));
          if (!anchors.has(anchor)) {
            problems.push(`${link.document}:${link.line} → ${link.target} (no heading #${anchor})`);
          }
        }
      }
      expect(problems).toEqual([]);
    });

    it(`${document}: every repository path named in code exists`, () => {
      const problems = codePathsOf(document)
        .map((p) => ({ p, r: resolveInRepo({ ...p, document: "README.md" }) }))
        .filter(({ r }) => r.problem)
        .map(({ p, r }) => `${p.document}:${p.line} → ${p.target} (${r.problem})`);
      expect(problems).toEqual([]);
    });
  }
});
