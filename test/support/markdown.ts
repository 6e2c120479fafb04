/**
 * Just enough Markdown for the README tests: fenced code blocks (with the line they start on) and
 * the prose around them, where links live.
 */

export interface FencedBlock {
  /** The info string's first word: `graphql`, `ts`, `sh`, or "" when none. */
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
}

const FENCE = /^(`{3,}|~{3,})\s*([\w+-]*)[^\n]*$/;

export function fencedBlocks(markdown: string): FencedBlock[] {
  const blocks: FencedBlock[] = [];
  const lines = markdown.split("\n");
  let open: { fence: string; lang: string; line: number; body: string[] } | null = null;
  lines.forEach((text, i) => {
    if (open) {
      if (text.trim() === open.fence) {
        blocks.push({ lang: open.lang, body: open.body.join("\n"), line: open.line });
        open = null;
      } else open.body.push(text);
      return;
    }
    const m = FENCE.exec(text.trim());
    if (m) open = { fence: m[1] ?? "```", lang: (m[2] ?? "").toLowerCase(), line: i + 1, body: [] };
  });
  if (open) throw new Error(`unclosed code block at line ${(open as { line: number }).line}`);
  return blocks;
}

/** The document's lines with those of fenced blocks blanked (so line numbers stay). */
function linesOutsideFences(markdown: string): string[] {
  let fence: string | null = null;
  return markdown.split("\n").map((text) => {
    if (fence) {
      if (text.trim() === fence) fence = null;
      return "";
    }
    const m = FENCE.exec(text.trim());
    if (m) {
      fence = m[1] ?? "```";
      return "";
    }
    return text;
  });
}

/** The text with fenced blocks and inline code spans blanked out (line numbers kept). */
export function proseOnly(markdown: string): string {
  return linesOutsideFences(markdown)
    .map((text) => text.replace(/`[^`]*`/g, ""))
    .join("\n");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

/** The anchors of a document's headings (a repeated heading gets -1, -2 … as on GitHub). */
export function headingAnchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const line of linesOutsideFences(markdown)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = headingAnchor(m[1] ?? "");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}
