// The GraphQL-over-HTTP audit of the graphql-http package against pixgate on its sandbox
// (PIXGATE_URL): every audit, MUST, SHOULD and MAY alike, answers ok.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auditServer } from 'graphql-http';

test('graphql-http audit: every audit ok', async () => {
  const results = await auditServer({ url: `${process.env.PIXGATE_URL}/graphql` });
  const count = (status) => results.filter((result) => result.status === status).length;
  console.log(`audit: ${results.length} audits, ${count('ok')} ok, ${count('notice')} notices, ${count('warn')} warnings, ${count('error')} errors`);
  const failed = results.filter((result) => result.status !== 'ok');
  assert.deepEqual(failed.map((result) => `${result.status} ${result.id} ${result.name}: ${result.reason}`), []);
});
