// What the studio's frontend asks pixgate. Each is typed by codegen from schema.graphql
// and shipped in the persisted-documents manifest; nothing else runs in trusted mode.
import { graphql } from './gql/index.js';

export const ClientWithInvoices = graphql(`
  query ClientWithInvoices($id: ID!) {
    client(id: $id) {
      id
      firstName
      lastName
      email
      invoices(first: 3) {
        nodes {
          number
          amount {
            amount
            currency
          }
        }
      }
    }
  }
`);

export const ContractsWithClients = graphql(`
  query ContractsWithClients($first: Int!) {
    contracts(first: $first) {
      edges {
        node {
          client {
            email
          }
          template {
            name
          }
        }
      }
    }
  }
`);
