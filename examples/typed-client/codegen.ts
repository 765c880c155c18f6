// GraphQL Code Generator's client preset on pixgate's schema: typed documents for the
// operations in src/, and `src/gql/persisted-documents.json`, the manifest pixgate
// runs with PIXGATE_TRUSTED_DOCUMENTS. The hash is SHA-256 of each printed document,
// which the client sends as `documentId`.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  ignoreNoDocuments: false,
  // Imports with `.js`, as Node's ES modules need them.
  emitLegacyCommonJSImports: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: 'embedHashInDocument', hashPropertyName: 'hash', hashAlgorithm: 'sha256' },
      },
      config: { enumsAsTypes: true, useTypeImports: true },
    },
  },
};

export default config;
