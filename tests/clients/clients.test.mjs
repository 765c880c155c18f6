// The GraphQL clients people use, against pixgate on its sandbox (PIXGATE_URL): Apollo Client
// (HTTP, its cache, graphql-ws subscriptions, persisted queries over POST and GET, a @live query),
// urql with graphql-ws (a @live query too), graphql-request, graphql-sse (both modes), a graphql-ws
// client's back-to-back subscriptions, and the introspected schema against schema.graphql.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { loadDevMessages, loadErrorMessages } from '@apollo/client/dev';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { Client as UrqlClient, fetchExchange, subscriptionExchange } from '@urql/core';
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, getOperationAST, lexicographicSortSchema, printSchema,
} from 'graphql';
import { GraphQLClient } from 'graphql-request';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

const base = process.env.PIXGATE_URL;
const http = `${base}/graphql`;
const ws = `${base.replace(/^http/, 'ws')}/graphql/ws`;
const KNOWN = 'cl_ABC123DEF456GHI789JKL012MNO345';
const UNKNOWN = 'cl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

loadDevMessages();
loadErrorMessages();

/** fetch, counting the requests it sends. */
function countingFetch() {
  const sent = [];
  const counted = (url, init) => {
    sent.push({ url: String(url), method: init?.method ?? 'GET' });
    return fetch(url, init);
  };
  return { fetch: counted, sent };
}

/** Everything the console is told while `run` runs. */
async function consoleDuring(run) {
  const said = [];
  const methods = ['log', 'info', 'warn', 'error', 'debug'];
  const saved = methods.map((method) => console[method]);
  for (const method of methods) console[method] = (...args) => said.push(args.map(String).join(' '));
  try {
    await run();
  } finally {
    methods.forEach((method, i) => { console[method] = saved[i]; });
  }
  return said;
}

async function submitImage(name) {
  const response = await fetch(http, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `mutation { submitPixelzImage(input: { imageUrls: ["https://images.example.com/${name}.jpg"] }) { ticket } }`,
    }),
  });
  const body = await response.json();
  assert.ok(body.data?.submitPixelzImage?.ticket, JSON.stringify(body));
  return body.data.submitPixelzImage.ticket;
}

const STATUS = gql`
  subscription Status($ticket: ID!) {
    pixelzImageStatusChanged(tickets: [$ticket]) { ticket status statusId }
  }
`;

/** Statuses until the subscription completes. */
function followToCompletion(subscribe) {
  return new Promise((resolve, reject) => {
    const seen = [];
    subscribe({
      next: (result) => {
        if (result.errors?.length) reject(new Error(JSON.stringify(result.errors)));
        seen.push(result.data.pixelzImageStatusChanged.status);
      },
      error: (error) => reject(error),
      complete: () => resolve(seen),
    });
  });
}

test('Apollo Client: a failed field is null, cached, and a cache-first repeat sends nothing', async () => {
  const { fetch, sent } = countingFetch();
  const client = new ApolloClient({ link: new HttpLink({ uri: http, fetch }), cache: new InMemoryCache() });
  const query = gql`
    query Two { a: client(id: "${UNKNOWN}") { id email } b: client(id: "${KNOWN}") { id email invoices(first: 2) { edges { node { id } } } } }
  `;
  let first;
  const said = await consoleDuring(async () => {
    first = await client.query({ query, errorPolicy: 'all' });
  });
  assert.deepEqual(said.filter((line) => /Missing field/.test(line)), [], said.join('\n'));
  assert.equal(first.data.a, null);
  assert.equal(first.data.b.id, KNOWN);
  assert.equal(first.error?.errors?.[0]?.extensions?.code, 'NOT_FOUND');
  assert.equal(sent.length, 1);

  const repeat = await client.query({ query, errorPolicy: 'all', fetchPolicy: 'cache-first' });
  assert.equal(sent.length, 1, 'the repeat is served from the cache');
  assert.equal(repeat.data.b.email, first.data.b.email);
});

test('Apollo Client: a subscription over GraphQLWsLink follows an image to delivered', async () => {
  const wsClient = createWsClient({ url: ws, webSocketImpl: WebSocket });
  const client = new ApolloClient({ link: new GraphQLWsLink(wsClient), cache: new InMemoryCache() });
  try {
    const ticket = await submitImage('apollo');
    const seen = await followToCompletion((observer) =>
      client.subscribe({ query: STATUS, variables: { ticket } }).subscribe(observer));
    assert.equal(seen.at(-1), 'DELIVERED', seen.join(' '));
  } finally {
    await wsClient.dispose();
  }
});

for (const overGet of [false, true]) {
  test(`Apollo Client: persisted queries over ${overGet ? 'GET' : 'POST'}, a miss then hits by hash`, async () => {
    const { fetch, sent } = countingFetch();
    const sha256 = (text) => createHash('sha256').update(text).digest('hex');
    const persisted = new PersistedQueryLink({ sha256, useGETForHashedQueries: overGet });
    const link = ApolloLink.from([persisted, new HttpLink({ uri: http, fetch })]);
    // A query no other test sends, so the gateway has not seen its hash.
    const query = gql`query Persisted${overGet ? 'Get' : 'Post'} { pixelzAccount { email company } }`;
    const ask = async () => {
      const client = new ApolloClient({ link, cache: new InMemoryCache() });
      const { data, error } = await client.query({ query, fetchPolicy: 'network-only' });
      assert.equal(error, undefined);
      return data;
    };
    const first = await ask();
    assert.equal(sent.length, 2, 'the hash alone, then the query with its hash');
    const second = await ask();
    assert.deepEqual(second, first);
    assert.equal(sent.length, 3, 'a known hash is one request');
    assert.equal(sent[2].method, overGet ? 'GET' : 'POST');
  });
}

test('urql: a query over fetch and a subscription over graphql-ws', async () => {
  const wsClient = createWsClient({ url: ws, webSocketImpl: WebSocket });
  const client = new UrqlClient({
    url: http,
    exchanges: [
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: wsClient.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  try {
    const result = await client.query(`{ a: client(id: "${UNKNOWN}") { id } b: client(id: "${KNOWN}") { id } }`, {}).toPromise();
    assert.deepEqual(result.data, { a: null, b: { id: KNOWN } });
    assert.equal(result.error?.graphQLErrors?.[0]?.extensions?.code, 'NOT_FOUND');

    const ticket = await submitImage('urql');
    const seen = await new Promise((resolve, reject) => {
      const statuses = [];
      const { unsubscribe } = client.subscription(STATUS, { ticket }).subscribe((result) => {
        if (result.error) return reject(result.error);
        statuses.push(result.data.pixelzImageStatusChanged.status);
        if (statuses.at(-1) === 'DELIVERED') {
          unsubscribe();
          resolve(statuses);
        }
      });
    });
    assert.equal(seen.at(-1), 'DELIVERED');
  } finally {
    await wsClient.dispose();
  }
});

/** True for a query marked `@live`: a client sends those over the socket, where they stay open. */
const isLive = (document) =>
  getOperationAST(document)?.directives?.some((directive) => directive.name.value === 'live') ?? false;

const LIVE_NOTES = gql`query LiveNotes @live { client(id: "${KNOWN}") { id notes } }`;

async function setNotes(notes) {
  const response = await fetch(http, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation ($id: ID!, $notes: String) { updateClient(input: { id: $id, notes: $notes }) { client { notes } } }',
      variables: { id: KNOWN, notes },
    }),
  });
  const body = await response.json();
  assert.equal(body.data?.updateClient?.client?.notes, notes, JSON.stringify(body));
}

/** Notes seen by a live query `watch` starts, until a write made over HTTP after the first shows. No other
 * test reads the client's notes, so the written ones stay. */
async function liveUntilWritten(watch) {
  const written = `written live ${Date.now()}`;
  const seen = [];
  await new Promise((resolve, reject) => {
    const stop = watch({
      next: (result) => {
        if (result.error || result.errors?.length) return reject(result.error ?? new Error(JSON.stringify(result.errors)));
        seen.push(result.data.client.notes);
        if (seen.length === 1) {
          setNotes(written).catch(reject);
        } else if (seen.at(-1) === written) {
          stop();
          resolve();
        }
      },
      error: reject,
    });
  });
  return { seen, written };
}

test('urql: a @live query over graphql-ws sees a write made over HTTP', async () => {
  const wsClient = createWsClient({ url: ws, webSocketImpl: WebSocket });
  const client = new UrqlClient({
    url: http,
    exchanges: [
      subscriptionExchange({
        isSubscriptionOperation: (operation) =>
          operation.kind === 'subscription' || (operation.kind === 'query' && isLive(operation.query)),
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: wsClient.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
      fetchExchange,
    ],
  });
  try {
    const { seen, written } = await liveUntilWritten(({ next, error }) => {
      const { unsubscribe } = client.query(LIVE_NOTES, {}, { requestPolicy: 'network-only' }).subscribe((result) =>
        result.error ? error(result.error) : next(result));
      return unsubscribe;
    });
    assert.deepEqual(seen.slice(-1), [written]);
    assert.equal(seen.length, 2, `one result, then the written one: ${JSON.stringify(seen)}`);
  } finally {
    await wsClient.dispose();
  }
});

test('Apollo Client: a @live query through GraphQLWsLink sees a write made over HTTP', async () => {
  const wsClient = createWsClient({ url: ws, webSocketImpl: WebSocket });
  const link = ApolloLink.split(({ query }) => isLive(query), new GraphQLWsLink(wsClient), new HttpLink({ uri: http }));
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  try {
    const { seen, written } = await liveUntilWritten(({ next, error }) => {
      const subscription = client
        .watchQuery({ query: LIVE_NOTES, fetchPolicy: 'network-only' })
        .subscribe({ next: (result) => (result.data?.client ? next(result) : undefined), error });
      return () => subscription.unsubscribe();
    });
    assert.equal(seen.at(-1), written);
  } finally {
    await wsClient.dispose();
  }
});

test('graphql-request: data, and a failed field as null beside its error', async () => {
  const client = new GraphQLClient(http, { errorPolicy: 'all' });
  const data = await client.request(`{ client(id: "${KNOWN}") { firstName lastName } }`);
  assert.deepEqual(data.client, { firstName: 'John', lastName: 'Doe' });
  const raw = await client.rawRequest(`{ a: client(id: "${UNKNOWN}") { id } b: client(id: "${KNOWN}") { id } }`);
  assert.deepEqual(raw.data, { a: null, b: { id: KNOWN } });
  assert.equal(raw.errors[0].extensions.code, 'NOT_FOUND');
});

test('graphql-sse: a subscription follows an image to delivered', async () => {
  const client = createSseClient({ url: `${base}/graphql/sse` });
  try {
    const ticket = await submitImage('sse');
    const seen = await followToCompletion((sink) =>
      client.subscribe({ query: STATUS.loc.source.body, variables: { ticket } }, sink));
    assert.equal(seen.at(-1), 'DELIVERED', seen.join(' '));
  } finally {
    client.dispose();
  }
});

test('graphql-sse in single-connection mode: a query and a subscription share one reserved stream', async () => {
  const client = createSseClient({ url: `${base}/graphql/sse`, singleConnection: true });
  try {
    const answer = await new Promise((resolve, reject) => {
      let result;
      client.subscribe({ query: `{ client(id: "${KNOWN}") { id } }` }, {
        next: (value) => { result = value; },
        error: reject,
        complete: () => resolve(result),
      });
    });
    assert.deepEqual(answer.data, { client: { id: KNOWN } });
    const ticket = await submitImage('sse-single');
    const seen = await followToCompletion((sink) =>
      client.subscribe({ query: STATUS.loc.source.body, variables: { ticket } }, sink));
    assert.equal(seen.at(-1), 'DELIVERED', seen.join(' '));
  } finally {
    client.dispose();
  }
});

test('graphql-ws: back-to-back subscriptions on one lazy client close cleanly and never wait to reconnect', async () => {
  const closes = [];
  const client = createWsClient({ url: ws, webSocketImpl: WebSocket, on: { closed: (event) => closes.push(event.code) } });
  const subscribe = (ticket) => (sink) => client.subscribe({ query: STATUS.loc.source.body, variables: { ticket } }, sink);
  const firstEvents = [];
  try {
    // An image that is delivered: each subscription to it gets its final state, then completes.
    const ticket = await submitImage('back-to-back');
    await followToCompletion(subscribe(ticket));
    await new Promise((resolve) => setTimeout(resolve, 100));
    closes.length = 0;
    for (let round = 0; round < 6; round += 1) {
      const started = performance.now();
      let first = true;
      await followToCompletion((sink) => subscribe(ticket)({
        ...sink,
        next: (result) => {
          if (first) firstEvents.push(Math.round(performance.now() - started));
          first = false;
          sink.next(result);
        },
      }));
      // Lazy: the client closes its socket once nothing runs, and the next starts while it closes.
    }
  } finally {
    await client.dispose();
  }
  console.log(`graphql-ws: first events after ${firstEvents.join(', ')} ms; close codes ${closes.join(', ')}`);
  assert.ok(closes.length >= 5, `a socket per subscription: ${closes}`);
  assert.ok(closes.every((code) => code === 1000), `every close is clean, none 1006: ${closes}`);
  // graphql-ws waits a second or more before it reconnects after an abnormal close; after a clean one, none.
  assert.ok(firstEvents.every((ms) => ms < 1000), `first events: ${firstEvents}`);
});

test('the introspected schema is schema.graphql', async () => {
  const response = await fetch(http, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true }) }),
  });
  const { data, errors } = await response.json();
  assert.equal(errors, undefined);
  const introspected = printSchema(lexicographicSortSchema(buildClientSchema(data)));
  const file = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
  const declared = printSchema(lexicographicSortSchema(buildSchema(file)));
  assert.equal(introspected, declared);
});
