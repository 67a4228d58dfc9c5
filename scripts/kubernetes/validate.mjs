// Reads rendered Kubernetes objects (multi-document YAML) on stdin, validates each against the Kubernetes API's
// JSON schemas (kubernetes-models: required fields, types, formats, enums) and, since those schemas allow any extra
// field, type-checks them against the same models' TypeScript types (an object literal may name only known fields),
// and prints them as one JSON array. Exits 1, naming every object and error, when any object is invalid, has a field
// the API does not know, or is of a kind the models do not know.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const documents = parseAllDocuments(Buffer.concat(chunks).toString("utf8"));

const objects = [];
const errors = [];
for (const document of documents) {
  if (document.errors.length > 0) {
    errors.push(`YAML: ${document.errors.map((e) => e.message).join("; ")}`);
    continue;
  }
  const object = document.toJS();
  if (object === null || object === undefined) continue;
  const name = `${object.kind ?? "?"} ${object.metadata?.name ?? "?"}`;
  // "v1" is the core group; "apps/v1", "policy/v1", "networking.k8s.io/v1" are modules of their own.
  const module = `kubernetes-models/${object.apiVersion}`;
  let models;
  try {
    models = await import(module);
  } catch {
    errors.push(`${name}: no schemas for apiVersion ${object.apiVersion}`);
    continue;
  }
  const Model = models[object.kind];
  if (typeof Model !== "function") {
    errors.push(`${name}: ${object.apiVersion} has no kind ${object.kind}`);
    continue;
  }
  try {
    new Model(object).validate();
  } catch (error) {
    errors.push(`${name}: ${error.message}`);
    continue;
  }
  objects.push(object);
}

// One object a line, each typed as its kind: tsc's excess-property check names any field the API does not have.
const name = (object) => `${object.kind} ${object.metadata?.name}`;
const lines = objects.map((o, i) => `import type { I${o.kind} as T${i} } from "kubernetes-models/${o.apiVersion}/${o.kind}";`);
const first = lines.length + 1;
objects.forEach((o, i) => lines.push(`export const o${i}: T${i} = ${JSON.stringify(o)};`));
const work = mkdtempSync(join(tmpdir(), "timepoint-kubernetes-"));
try {
  symlinkSync(join(here, "node_modules"), join(work, "node_modules"), "dir");
  writeFileSync(join(work, "objects.ts"), lines.join("\n") + "\n");
  execFileSync(join(here, "node_modules", ".bin", "tsc"),
    ["--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "objects.ts"],
    { cwd: work, encoding: "utf8" });
} catch (error) {
  const output = `${error.stdout ?? ""}${error.stderr ?? ""}` || error.message;
  for (const line of output.split("\n").filter(Boolean)) {
    const at = /^objects\.ts\((\d+),\d+\): (.*)$/.exec(line);
    errors.push(at && Number(at[1]) >= first ? `${name(objects[Number(at[1]) - first])}: ${at[2]}` : line);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

if (errors.length > 0) {
  for (const error of errors) console.error(error);
  process.exit(1);
}
process.stdout.write(JSON.stringify(objects));
