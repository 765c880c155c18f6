// The example's build fed to pixgate's trusted-documents mode. `npm run build` wrote
// the manifest (src/gql/persisted-documents.json) and the typed operations (dist/);
// PIXGATE_BIN runs twice, as the sandbox (whose request log counts upstream calls)
// and as the gateway in front of it with only the manifest's operations allowed.
//
// The gateway first gets the manifest of an older build, without one operation; a
// SIGHUP after the new manifest is in place lets that operation run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { documentId, execute } from '../dist/client.js';
import { ClientWithInvoices, ContractsWithClients } from '../dist/operations.js';

const BIN = process.env.PIXGATE_BIN;
const CREDENTIALS = {
  'x-pixieset-cookie': 'session_cookie=sandbox',
  'x-pixelz-email': 'studio@sandbox.test',
  'x-pixelz-api-key': 'sandbox-key',
};
const KNOWN_CLIENT = 'cl_ABC123DEF456GHI789JKL012MNO345';
const built = JSON.parse(readFileSync(new URL('../src/gql/persisted-documents.json', import.meta.url), 'utf8'));

const children = [];
let sandbox;
let pixgate;
let manifest;

function start(args, env = {}) {
  const child = spawn(BIN, args, { env: { ...process.env, RUST_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(line.replace('listening on ', '').trim()));
  });
}

const gateway = () => ({ url: `${pixgate.url}/graphql`, headers: CREDENTIALS });

async function upstreamCalls() {
  return (await (await fetch(`${sandbox}/__sandbox/requests`)).json()).total;
}

async function resetUpstreamCalls() {
  await fetch(`${sandbox}/__sandbox/requests`, { method: 'DELETE' });
}

before(async () => {
  sandbox = await start(['sandbox', '--listen', '127.0.0.1:0', '--step-ms', '50']);
  // The previous build's manifest: everything but the contracts operation.
  manifest = join(mkdtempSync(join(tmpdir(), 'pixgate-typed-client-')), 'persisted-documents.json');
  const previous = Object.fromEntries(Object.entries(built).filter(([id]) => id !== documentId(ContractsWithClients)));
  writeFileSync(manifest, JSON.stringify(previous));
  const url = await start(['serve', '--listen', '127.0.0.1:0'], {
    PIXIESET_BASE_URL: `${sandbox}/api/v1`,
    PIXELZ_BASE_URL: `${sandbox}/REST.svc/JSON`,
    PIXGATE_TRUSTED_DOCUMENTS: manifest,
  });
  pixgate = { url, process: children.at(-1) };
});

after(() => {
  for (const child of children) child.kill('SIGTERM');
});

test('the manifest holds every operation the build typed, by SHA-256', () => {
  assert.deepEqual(Object.keys(built).sort(), [documentId(ClientWithInvoices), documentId(ContractsWithClients)].sort());
  for (const id of Object.keys(built)) assert.match(id, /^sha256:[0-9a-f]{64}$/);
});

test("the build's operations run by their hash, typed", async () => {
  const answer = await execute(gateway(), ClientWithInvoices, { id: KNOWN_CLIENT });
  assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  assert.equal(answer.data.client.email, 'client@example.com');
  assert.ok(answer.data.client.invoices.nodes.length > 0);
});

test('an operation outside the manifest is refused with a code and costs no upstream call', async () => {
  await resetUpstreamCalls();
  const text = await fetch(`${pixgate.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...CREDENTIALS },
    body: JSON.stringify({ query: '{ clients(first: 50) { nodes { email phone } } }' }),
  });
  const refused = await text.json();
  assert.equal(refused.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_IN_LIST', JSON.stringify(refused));
  assert.equal(refused.data, undefined);

  // The newer build's operation, not yet in the manifest in force.
  const newer = await execute(gateway(), ContractsWithClients, { first: 45 });
  assert.equal(newer.errors[0].extensions.code, 'PERSISTED_QUERY_NOT_FOUND', JSON.stringify(newer));
  assert.equal(await upstreamCalls(), 0);
});

test("SIGHUP picks up the new build's manifest, and its cost matches the sandbox cold and warm", async () => {
  writeFileSync(manifest, JSON.stringify(built));
  pixgate.process.kill('SIGHUP');
  const asked = { ...gateway(), headers: { ...CREDENTIALS, 'x-pixgate-cost': 'true' } };
  let answer;
  for (let tries = 0; tries < 100; tries += 1) {
    await resetUpstreamCalls();
    answer = await execute(asked, ContractsWithClients, { first: 45 });
    if (!answer.errors) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  assert.equal(answer.data.contracts.edges.length, 45);
  assert.equal(await upstreamCalls(), 1);
  assert.equal(answer.extensions.pixgateCost.upstreamCalls.total, 1, JSON.stringify(answer.extensions));

  await resetUpstreamCalls();
  const warm = await execute(asked, ContractsWithClients, { first: 45 });
  assert.deepEqual(warm.data, answer.data);
  assert.equal(await upstreamCalls(), 0);
  assert.equal(warm.extensions.pixgateCost.upstreamCalls.total, 0);
});
