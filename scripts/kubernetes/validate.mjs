// Reads rendered Kubernetes objects (multi-document YAML) on stdin, validates each against the Kubernetes API's
// JSON schemas (kubernetes-models: required fields, types, formats, enums), and prints them as one JSON array.
// Exits 1, naming every object and error, when any object is invalid or of a kind the schemas do not know.
import { parseAllDocuments } from "yaml";

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

if (errors.length > 0) {
  for (const error of errors) console.error(error);
  process.exit(1);
}
process.stdout.write(JSON.stringify(objects));
