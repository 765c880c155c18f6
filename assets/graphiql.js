// GraphiQL for pixgate: queries and mutations over HTTP, subscriptions over the
// WebSocket route (graphql-transport-ws). Every asset comes from the gateway itself.
(function () {
  const settings = JSON.parse(document.getElementById("pixgate-settings").textContent);
  const wsUrl = window.location.origin.replace(/^http/, "ws") + settings.subscriptionPath;

  // Browsers cannot set WebSocket headers: the credentials in the headers pane
  // travel in the connection_init payload instead, under the names DESIGN.md gives.
  let headers = {};
  const header = (name) => {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : headers[key];
  };
  const wsClient = graphqlWs.createClient({
    url: wsUrl,
    lazy: true,
    connectionParams: () => ({
      pixiesetCookie: header("x-pixieset-cookie"),
      pixelzEmail: header("x-pixelz-email"),
      pixelzApiKey: header("x-pixelz-api-key"),
      authorization: header("authorization"),
    }),
  });
  const viaHttpOrSocket = GraphiQL.createFetcher({ url: settings.endpoint, wsClient });
  // Every answer over HTTP says what it cost upstream (`extensions.pixgateCost`),
  // beside the data in the result pane; a header in the pane can say otherwise.
  const fetcher = (params, options) => {
    headers = (options && options.headers) || {};
    const asked = header("x-pixgate-cost") === undefined ? { "x-pixgate-cost": "true" } : {};
    return viaHttpOrSocket(params, { ...options, headers: { ...asked, ...headers } });
  };

  const query = new URLSearchParams(window.location.search);
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher,
      defaultQuery: settings.defaultQuery,
      query: query.get("query") || undefined,
      variables: query.get("variables") || undefined,
      defaultHeaders: settings.headers || undefined,
      defaultEditorToolsVisibility: settings.headers ? "headers" : false,
      shouldPersistHeaders: false,
    }),
  );
})();
