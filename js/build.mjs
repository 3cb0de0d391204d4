// Build the live view's front end: js/widget.js with uPlot and the CSS, bundled by esbuild
// into one ES module (widget.js) and one style sheet (widget.css) in
// nbstream/notebook/static/, which the Python package serves through anywidget.
// Run `npm ci && node build.mjs` here (scripts/build-js does, and scripts/test and the
// package build call it). The output is generated: it is not in git.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "nbstream", "notebook", "static");

await build({
  entryPoints: { widget: path.join(here, "widget.js") },
  bundle: true,
  format: "esm",
  minify: true,
  target: ["es2020"],
  outdir: out,
  legalComments: "none",
  logLevel: "warning",
});
console.log(`built ${path.relative(process.cwd(), out)}/widget.js and widget.css`);
