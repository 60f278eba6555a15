// Builds pystator/ui/static/vendor from the exact packages of package-lock.json:
//   codemirror/codemirror.js  one ES module bundling src/codemirror.js (CodeMirror 6 and yaml)
//   elk/elk.bundled.js        elkjs's own prebuilt bundle, copied unchanged
// with every bundled package's licence text and versions.json (name, version, licence).
// Run through scripts/build_ui_vendor.sh, which installs with `npm ci` first.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "pystator", "ui", "static", "vendor");
const modules = join(here, "node_modules");

function packageInfo(name) {
  const meta = JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8"));
  const licenceFile = readdirSync(join(modules, name)).find((f) => /^licen[cs]e/i.test(f));
  return { name, version: meta.version, license: meta.license, licenceFile };
}

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "codemirror"), { recursive: true });
mkdirSync(join(out, "elk"), { recursive: true });

const result = await build({
  entryPoints: [join(here, "src", "codemirror.js")],
  bundle: true,
  format: "esm",
  minify: true,
  legalComments: "none",
  target: "es2020",
  metafile: true,
  outfile: join(out, "codemirror", "codemirror.js"),
});

// Every package whose code is in the bundle, from esbuild's own list of inputs.
const bundled = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  if (match) bundled.add(match[1]);
}
const records = [];
for (const name of [...bundled].sort()) {
  const info = packageInfo(name);
  const target = `codemirror/LICENSE.${name.replace("/", "__")}`;
  copyFileSync(join(modules, name, info.licenceFile), join(out, target));
  records.push({ file: "codemirror/codemirror.js", name, version: info.version, license: info.license, licence_text: target });
}
const elk = packageInfo("elkjs");
copyFileSync(join(modules, "elkjs", "lib", "elk.bundled.js"), join(out, "elk", "elk.bundled.js"));
copyFileSync(join(modules, "elkjs", elk.licenceFile), join(out, "elk", "LICENSE.elkjs"));
records.push({ file: "elk/elk.bundled.js", name: "elkjs", version: elk.version, license: elk.license, licence_text: "elk/LICENSE.elkjs" });

writeFileSync(join(out, "versions.json"), JSON.stringify(records, null, 2) + "\n");
console.log(`vendor: ${records.length} packages in ${out}`);
