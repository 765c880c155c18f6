// A typed client for a pixgate that runs only trusted documents: it sends each
// operation's `documentId` (the hash codegen embedded), never its text, and the
// result's type follows from the document.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export interface Answer<T> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
  extensions?: Record<string, unknown>;
}

export interface Gateway {
  url: string;
  headers?: Record<string, string>;
}

/** The hash codegen embeds in a document it wrote to the manifest. */
export function documentId<Result, Variables>(document: TypedDocumentNode<Result, Variables>): string {
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('the document has no persisted hash: run `npm run build`');
  return hash;
}

export async function execute<Result, Variables>(
  gateway: Gateway,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Answer<Result>> {
  const response = await fetch(gateway.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...gateway.headers },
    body: JSON.stringify({ documentId: documentId(document), variables }),
  });
  return (await response.json()) as Answer<Result>;
}
