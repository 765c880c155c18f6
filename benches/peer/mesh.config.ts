// The peer: the two documented REST APIs as one GraphQL schema, composed by GraphQL Mesh
// from the OpenAPI sources beside this file, the way a user would build pixgate's
// alternative. Contract.clientRecord and Contract.templateRecord are the full client and
// template, as pixgate's Contract.client and Contract.template are, fetched by the ids the
// expanded list embeds. Credentials come from the caller's headers, as pixgate takes them.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const upstream = process.env.PEER_UPSTREAM ?? 'http://127.0.0.1:8081';

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Pixieset', {
        source: './pixieset.openapi.yaml',
        endpoint: `${upstream}/api/v1`,
        operationHeaders: {
          Cookie: '{context.headers.x-pixieset-cookie}',
          'X-Requested-With': 'XMLHttpRequest',
          'Content-Type': 'application/json',
        },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Pixelz', {
        source: './pixelz.openapi.yaml',
        endpoint: `${upstream}/REST.svc/JSON`,
      }),
    },
  ],
  additionalTypeDefs: /* GraphQL */ `
    extend type Contract {
      clientRecord: Client
        @resolveTo(
          sourceName: "Pixieset"
          sourceTypeName: "Query"
          sourceFieldName: "client"
          requiredSelectionSet: "{ client { id } }"
          sourceArgs: { client_id: "{root.client.id}" }
          result: "data"
        )
      templateRecord: ContractTemplate
        @resolveTo(
          sourceName: "Pixieset"
          sourceTypeName: "Query"
          sourceFieldName: "contractTemplate"
          requiredSelectionSet: "{ template { id } }"
          sourceArgs: { template_id: "{root.template.id}" }
          result: "data"
        )
    }
  `,
});
