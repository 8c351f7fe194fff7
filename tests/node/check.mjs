// Parse mermaid files with mermaid's own parser. Usage: node check.mjs FILE...
// Prints one JSON line per file: {"file", "ok", "error"}; exit 1 if any fails.
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

let failed = 0;
for (const file of process.argv.slice(2)) {
  let text = readFileSync(file, "utf8");
  const fenced = text.match(/^```mermaid\n([\s\S]*?)```\s*$/);
  if (fenced) text = fenced[1];
  try {
    await mermaid.parse(text);
    const db = mermaid.mermaidAPI.getDiagramFromText
      ? await mermaid.mermaidAPI.getDiagramFromText(text)
      : null;
    let labels = null;
    if (db && db.db && db.db.getVertices) {
      labels = {};
      const vertices = db.db.getVertices();
      for (const [id, v] of vertices instanceof Map ? vertices : Object.entries(vertices)) {
        labels[id] = decode(v.text);
      }
    }
    console.log(JSON.stringify({ file, ok: true, labels }));
  } catch (err) {
    failed += 1;
    console.log(JSON.stringify({ file, ok: false, error: String(err && err.message || err) }));
  }
}
process.exit(failed ? 1 : 0);
