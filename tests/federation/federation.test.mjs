// pixgate as an Apollo Federation v2 subgraph. A second subgraph written here with
// @apollo/subgraph (bookings, which a studio's own app would hold) is composed with
// pixgate's `_service { sdl }` by @theguild/federation-composition, and Hive Gateway
// serves the supergraph. The router forwards the caller's upstream credentials;
// pixgate has none of its own, so every answer below proves they arrived.
//
// PIXGATE_BIN names the binary; it runs twice: as the sandbox (whose request log
// counts the upstream calls) and as the gateway in front of it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';

import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime } from '@graphql-hive/gateway';
import { composeServices } from '@theguild/federation-composition';
import { graphql, parse } from 'graphql';

const BIN = process.env.PIXGATE_BIN;
const CREDENTIALS = {
  'x-pixieset-cookie': 'session_cookie=sandbox',
  'x-pixelz-email': 'studio@sandbox.test',
  'x-pixelz-api-key': 'sandbox-key',
};
const CREDENTIAL_HEADERS = Object.keys(CREDENTIALS);
const ADMIN_TOKEN = 'federation-test-admin';

const children = [];
const servers = [];

/** Starts the binary and resolves with the URL it says it listens on. */
function start(args, env = {}) {
  const child = spawn(BIN, args, { env: { ...process.env, RUST_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      assert.match(line, /^listening on /);
      resolve(line.replace('listening on ', '').trim());
    });
  });
}

function listen(handler) {
  const server = createServer(handler);
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`)));
}

async function post(url, query, headers = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

let sandbox;
let pixgate;
let router;
let clients;
const entityCalls = [];

async function upstreamCalls() {
  const log = await (await fetch(`${sandbox}/__sandbox/requests`)).json();
  return log;
}

/** Drops everything pixgate holds, so what follows is asked upstream. */
async function forget() {
  const dropped = await fetch(`${pixgate}/admin/invalidate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}`, ...CREDENTIALS },
    body: '{}',
  });
  assert.equal(dropped.status, 200, await dropped.text());
}

async function resetUpstreamCalls() {
  await fetch(`${sandbox}/__sandbox/requests`, { method: 'DELETE' });
}

/** The loader batches pixgate's metrics have counted so far, for one loader. */
async function loaderBatches(loader) {
  const text = await (await fetch(`${pixgate}/metrics`)).text();
  const read = (suffix) => {
    const line = text.split('\n').find((l) => l.startsWith(`pixgate_dataloader_batch_size_${suffix}{loader="${loader}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return { batches: read('count'), keys: read('sum') };
}

const BOOKINGS_SDL = `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key"])

  type Booking @key(fields: "id") {
    id: ID!
    startsAt: String!
    client: Client!
  }

  type Client @key(fields: "id") {
    id: ID!
    bookings: [Booking!]!
  }

  type Query {
    bookings: [Booking!]!
  }
`;

/** The studio's own subgraph: bookings of pixgate's clients. */
function bookingsSubgraph(bookings) {
  const schema = buildSubgraphSchema([{
    typeDefs: parse(BOOKINGS_SDL),
    resolvers: {
      Query: { bookings: () => bookings },
      Booking: { client: (booking) => ({ __typename: 'Client', id: booking.clientId }) },
      Client: {
        __resolveReference: (client) => ({ id: client.id }),
        bookings: (client) => bookings.filter((booking) => booking.clientId === client.id),
      },
    },
  }]);
  return async (request, response) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    const { query, variables, operationName } = JSON.parse(body);
    if (query.includes('_entities')) entityCalls.push(variables.representations);
    const result = await graphql({ schema, source: query, variableValues: variables, operationName });
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(result));
  };
}

before(async () => {
  sandbox = await start(['sandbox', '--listen', '127.0.0.1:0', '--step-ms', '50']);
  pixgate = await start(['serve', '--listen', '127.0.0.1:0'], {
    PIXIESET_BASE_URL: `${sandbox}/api/v1`,
    PIXELZ_BASE_URL: `${sandbox}/REST.svc/JSON`,
    PIXGATE_FEDERATION: 'true',
    PIXGATE_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  const listed = await post(`${pixgate}/graphql`, '{ clients(first: 4) { nodes { id email } } }', CREDENTIALS);
  clients = listed.data.clients.nodes;
  assert.equal(clients.length, 4, JSON.stringify(listed));
  // Three of the four clients have bookings, the first two.
  const bookings = [0, 0, 1, 2].map((client, i) => ({
    id: `bk_${i}`,
    startsAt: `2026-12-0${i + 1}T10:00:00Z`,
    clientId: clients[client].id,
  }));
  const bookingsUrl = await listen(bookingsSubgraph(bookings));

  const { data } = await post(`${pixgate}/graphql`, '{ _service { sdl } }');
  const composed = composeServices([
    { name: 'pixgate', typeDefs: parse(data._service.sdl), url: `${pixgate}/graphql` },
    { name: 'bookings', typeDefs: parse(BOOKINGS_SDL), url: `${bookingsUrl}/graphql` },
  ]);
  assert.equal(composed.errors, undefined, composed.errors?.map(String).join('\n'));

  // What a Hive Gateway config says to forward the caller's upstream credentials to pixgate.
  const gateway = createGatewayRuntime({
    supergraph: composed.supergraphSdl,
    logging: process.env.FEDERATION_DEBUG ? 'debug' : false,
    // pixgate's typed codes (UNAUTHENTICATED, NOT_FOUND, RATE_LIMITED) reach the caller.
    maskedErrors: false,
    propagateHeaders: {
      fromClientToSubgraphs: ({ request, subgraphName }) =>
        subgraphName === 'pixgate'
          ? Object.fromEntries(CREDENTIAL_HEADERS.map((name) => [name, request.headers.get(name)]))
          : {},
    },
  });
  router = `${await listen(gateway)}/graphql`;
});

after(async () => {
  for (const child of children) child.kill('SIGTERM');
  for (const server of servers) server.closeAllConnections?.(), server.close();
});

test("the router joins the bookings subgraph's field onto pixgate's clients: one upstream call, one entity batch", async () => {
  await forget();
  await resetUpstreamCalls();
  entityCalls.length = 0;
  const answer = await post(router, '{ clients(first: 4) { nodes { id email bookings { startsAt } } } }', CREDENTIALS);
  assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  const nodes = answer.data.clients.nodes;
  assert.deepEqual(nodes.map((n) => n.bookings.length), [2, 1, 1, 0]);
  assert.equal(nodes[0].email, clients[0].email);

  const calls = await upstreamCalls();
  assert.equal(calls.total, 1, `one Pixieset list for all the clients: ${JSON.stringify(calls.by_endpoint)}`);
  assert.equal(entityCalls.length, 1, 'all four clients went to the bookings subgraph in one _entities call');
  assert.equal(entityCalls[0].length, 4);
});

test('the other way: bookings name clients, and pixgate resolves them as entities in one loader batch', async () => {
  // Nothing cached: each client is fetched once, all in one batch.
  await forget();
  const before = await loaderBatches('client');
  await resetUpstreamCalls();
  const query = '{ bookings { id client { id email firstName } } }';
  const answer = await post(router, query, CREDENTIALS);
  assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
  assert.deepEqual(answer.data.bookings.map((b) => b.client.email), [0, 0, 1, 2].map((i) => clients[i].email));

  const after = await loaderBatches('client');
  assert.deepEqual(
    { batches: after.batches - before.batches, keys: after.keys - before.keys },
    { batches: 1, keys: 3 },
    'three distinct clients, one batch',
  );
  // Pixieset has no lookup of many clients at once: the batch's three are fetched side by side.
  const calls = await upstreamCalls();
  assert.equal(calls.total, 3, `one call per distinct client, none per booking: ${JSON.stringify(calls.by_endpoint)}`);

  // Without the caller's credentials pixgate has none: the join fails as UNAUTHENTICATED, typed.
  const refused = await post(router, query);
  assert.ok(
    refused.errors?.some((e) => e.extensions?.code === 'UNAUTHENTICATED'),
    JSON.stringify(refused),
  );
});

test('pixgate answers _entities directly: nulls beside typed errors, the rest still there', async () => {
  const representations = [
    { __typename: 'Client', id: clients[0].id },
    { __typename: 'Client', id: 'cl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
    { __typename: 'Client', id: 'in_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
  ];
  const response = await fetch(`${pixgate}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...CREDENTIALS },
    body: JSON.stringify({
      query: 'query ($r: [_Any!]!) { _entities(representations: $r) { ... on Client { email } } }',
      variables: { r: representations },
    }),
  });
  const answer = await response.json();
  assert.deepEqual(answer.data._entities, [{ email: clients[0].email }, null, null], JSON.stringify(answer));
  assert.deepEqual(
    answer.errors.map((e) => [e.path, e.extensions.code]).sort((a, b) => a[0][1] - b[0][1]),
    [[['_entities', 1], 'NOT_FOUND'], [['_entities', 2], 'BAD_USER_INPUT']],
  );
});
