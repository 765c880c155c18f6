// Hive Gateway serving the Mesh supergraph. With PEER_RESPONSE_CACHE=1 it keeps whole
// answers per caller, scoped by the Pixieset cookie the caller sends, as pixgate scopes
// its answers by credentials; the time to live is pixgate's for records (30 s).
import { defineConfig } from '@graphql-hive/gateway';

const cached = process.env.PEER_RESPONSE_CACHE === '1';

export const gatewayConfig = defineConfig({
  logging: 'error',
  graphiql: false,
  responseCaching: cached
    ? {
        session: (request: Request) => request.headers.get('x-pixieset-cookie'),
        ttl: 30_000,
      }
    : undefined,
});
