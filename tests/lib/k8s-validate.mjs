// Validate Kubernetes manifests against the API's OpenAPI schemas, offline:
//   node tests/lib/k8s-validate.mjs NODE_MODULES_DIR FILE.yaml
// with the npm packages kubernetes-models (the schemas, compiled for ajv) and
// js-yaml installed under NODE_MODULES_DIR. Prints one line per object
// ("ok <kind>/<name>" or "invalid <kind>/<name>: <errors>") and exits 1 when
// any object is invalid or of a kind it has no schema for.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [modules, file] = process.argv.slice(2);
if (!modules || !file) {
  console.error("usage: node k8s-validate.mjs NODE_MODULES_DIR FILE.yaml");
  process.exit(2);
}
const load = (p) => import(pathToFileURL(path.join(modules, p)).href);
const yaml = (await load("js-yaml/dist/js-yaml.mjs")).default;
let bad = 0;
for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
  if (!doc) continue;
  const [group, version] = doc.apiVersion.includes("/") ? doc.apiVersion.split("/") : [null, doc.apiVersion];
  const dir = group ? `${group}/${version}` : version;
  const what = `${doc.kind}/${doc.metadata?.name}`;
  let Model;
  try {
    Model = (await load(`kubernetes-models/${dir}/${doc.kind}.js`))[doc.kind];
  } catch (e) {
    console.log(`invalid ${what}: no schema for ${doc.apiVersion} ${doc.kind}`);
    bad++;
    continue;
  }
  if (doc.kind === "Secret" && doc.data) {
    // kustomize folds long base64 values over lines; the API server's decoder
    // (Go's base64) skips the newlines, the schema's "byte" format does not.
    for (const k of Object.keys(doc.data)) doc.data[k] = String(doc.data[k]).replace(/\s+/g, "");
  }
  try {
    new Model(doc).validate();
    console.log(`ok ${what}`);
  } catch (e) {
    console.log(`invalid ${what}: ${e.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
