// Parse mermaid files with mermaid's own parser. Usage: node check.mjs FILE...
// Prints one JSON line per file: {"file", "ok", "error", "labels"}; exit 1 if any fails.
// `node check.mjs --serve` reads one JSON string (a diagram) per stdin line and
// answers one JSON line each, so property tests pay Node's start-up once.
import { readFileSync } from "node:fs";
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
Object.defineProperty(globalThis, "navigator", { value: dom.window.navigator, configurable: true });

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

// mermaid keeps entity codes as placeholders until it renders; undo them the
// same way its decodeEntities does, to compare labels with the real names.
function decode(text) {
  return String(text)
    .replace(/ﬂ°°(\d+)¶ß/g, (_, code) => String.fromCodePoint(Number(code)))
    .replace(/ﬂ°(\w+)¶ß/g, (_, name) => ({ quot: '"', amp: "&", lt: "<", gt: ">" })[name] ?? `#${name};`);
}

async function check(text) {
  const fenced = text.match(/^```mermaid\n([\s\S]*?)```\s*$/);
  if (fenced) text = fenced[1];
  try {
    await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const labels = {};
    const vertices = diagram.db.getVertices ? diagram.db.getVertices() : new Map();
    for (const [id, v] of vertices instanceof Map ? vertices : Object.entries(vertices)) {
      labels[id] = decode(v.text);
    }
    return { ok: true, labels };
  } catch (err) {
    return { ok: false, error: String((err && err.message) || err) };
  }
}

if (process.argv[2] === "--serve") {
  const { createInterface } = await import("node:readline");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim()) console.log(JSON.stringify(await check(JSON.parse(line))));
  }
  process.exit(0);
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  const result = await check(readFileSync(file, "utf8"));
  if (!result.ok) failed += 1;
  console.log(JSON.stringify({ file, ...result }));
}
process.exit(failed ? 1 : 0);
