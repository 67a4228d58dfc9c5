// The drift check: every answer the end-to-end suite got from the edge must be one the document describes.
// Usage: node drift.mjs <document.json> <recordings.json>; recordings are [{method, path, status, contentType, body}].
// Prints one line per answer the document does not describe and exits 1 when there is any.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [documentPath, recordingsPath] = process.argv.slice(2);
const document = JSON.parse(readFileSync(documentPath, "utf8"));
const recordings = JSON.parse(readFileSync(recordingsPath, "utf8"));

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats(ajv);
for (const format of ["int32", "int64", "float", "double", "uri-reference"]) ajv.addFormat(format, true);
ajv.addSchema(document, "doc");

const pointer = (...parts) => "doc#/" + parts.map((p) => String(p).replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

// Templates, most literal first, so /api/v1/timepoints/generate wins over /api/v1/timepoints/{id}.
const templates = Object.keys(document.paths)
  .map((template) => ({
    template,
    regex: new RegExp("^" + template.replace(/[.*+?^$()|[\]\\]/g, "\\$&").replace(/\{[^}]+\}/g, "[^/]+") + "$"),
    literal: template.replace(/\{[^}]+\}/g, "").length,
  }))
  .sort((a, b) => b.literal - a.literal);

const validators = new Map();
const problems = [];
const seen = new Set();
for (const { method, path, status, contentType, body } of recordings) {
  const found = templates.find((t) => t.regex.test(path) && document.paths[t.template][method.toLowerCase()]);
  if (!found) {
    problems.push(`${method} ${path}: no operation in the document`);
    continue;
  }

  const operation = document.paths[found.template][method.toLowerCase()];
  const key = `${method} ${found.template} ${status}`;
  const response = operation.responses[String(status)] ?? operation.responses.default;
  if (!response) {
    if (!seen.has(key)) problems.push(`${key}: status not in the document`);
    seen.add(key);
    continue;
  }

  const mediaType = (contentType ?? "").split(";")[0].trim();
  if (!mediaType || body === null || body === undefined || body === "") continue;
  if (!mediaType.endsWith("json")) continue;
  if (!response.content?.[mediaType]) {
    if (!seen.has(key + mediaType)) problems.push(`${key}: answered ${mediaType}, which the document does not list`);
    seen.add(key + mediaType);
    continue;
  }
  if (!response.content[mediaType].schema) continue;

  const ref = pointer("paths", found.template, method.toLowerCase(), "responses", response === operation.responses.default ? "default" : String(status),
    "content", mediaType, "schema");
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }

  let value;
  try {
    value = JSON.parse(body);
  } catch {
    problems.push(`${key}: the body is not JSON`);
    continue;
  }

  if (!validate(value) && !seen.has(key + "schema")) {
    seen.add(key + "schema");
    problems.push(`${key}: ${ajv.errorsText(validate.errors, { separator: "; " })} in ${body.slice(0, 300)}`);
  }
}

const operations = new Set(recordings.map((r) => {
  const found = templates.find((t) => t.regex.test(r.path) && document.paths[t.template][r.method.toLowerCase()]);
  return found ? `${r.method} ${found.template}` : null;
}).filter(Boolean));
console.log(`${recordings.length} answers of ${operations.size} operations checked against the document; ${problems.length} not described.`);
for (const problem of problems) console.log(problem);
process.exit(problems.length ? 1 : 0);
