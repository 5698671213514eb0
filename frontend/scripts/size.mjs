// Prints the gzipped size of the JavaScript the dashboard loads first (index.html's scripts and their
// static imports) and of every chunk: `npm run size` after `npm run build`.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dist = join(import.meta.dirname, "..", "dist");
const html = readFileSync(join(dist, "index.html"), "utf8");
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const initial = new Set();
const visit = (file) => {
  if (initial.has(file)) return;
  initial.add(file);
  const code = readFileSync(join(dist, file), "utf8");
  for (const m of code.matchAll(/(?:^|[;\n])import\s*(?:[^"'()]*?from\s*)?["']\.\/([^"']+\.js)["']/g)) visit(`assets/${m[1]}`);
};
for (const m of html.matchAll(/src="\/(assets\/[^"]+\.js)"/g)) visit(m[1]);
let total = 0;
for (const file of initial) total += gz(file);
console.log(`initial JavaScript: ${(total / 1024).toFixed(1)} KiB gzipped (${[...initial].join(", ")})`);
for (const file of readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js")).sort()) {
  console.log(`  ${file}: ${(gz(`assets/${file}`) / 1024).toFixed(1)} KiB gzipped`);
}
