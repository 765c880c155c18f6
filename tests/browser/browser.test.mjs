// pixgate as frontends meet it: GraphiQL and the demo page in Debian's Chromium,
// driven by playwright-core, against a gateway on the sandbox (PIXGATE_URL).
// Screenshots go to PIXGATE_SCREENSHOTS (default target/browser).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.PIXGATE_URL;
assert.ok(base, "PIXGATE_URL names the gateway under test, e.g. http://127.0.0.1:8080");
const screenshots = process.env.PIXGATE_SCREENSHOTS ?? "target/browser";
const CLIENT_ID = "cl_ABC123DEF456GHI789JKL012MNO345";
const TIMEOUT = 30_000;

let browser;

before(async () => {
  mkdirSync(screenshots, { recursive: true });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    // CI runs as root, where Chromium's own sandbox cannot start.
    args: ["--no-sandbox"],
  });
});

after(async () => {
  await browser?.close();
});

/** A page that records every request for another host, refuses it, and records script errors. */
async function open(path) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const foreign = [];
  await context.route(
    (url) => url.origin !== new URL(base).origin,
    (route) => {
      foreign.push(route.request().url());
      return route.abort();
    },
  );
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  const sockets = [];
  page.on("websocket", (socket) => sockets.push(socket.url()));
  await page.goto(base + path, { waitUntil: "load" });
  return { context, page, foreign, errors, sockets };
}

async function graphql(query, variables) {
  const response = await fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

async function resultText(page, expected) {
  const result = page.locator('section[aria-label="Result Window"]');
  await result.getByText(expected).first().waitFor();
  return result.innerText();
}

test("GraphiQL loads from the gateway alone, shows the schema's docs and answers a query", async () => {
  const query = `{ client(id: "${CLIENT_ID}") { firstName lastName email type } }`;
  const { context, page, foreign, errors } = await open(`/graphql?query=${encodeURIComponent(query)}`);
  await page.locator(".graphiql-container").waitFor();

  await page.locator('button[aria-label="Show Documentation Explorer"]').click();
  const docs = page.locator(".graphiql-doc-explorer");
  await docs.getByText("Query", { exact: true }).first().waitFor();
  await docs.getByText("Mutation", { exact: true }).first().waitFor();

  await page.locator(".graphiql-execute-button").click();
  const text = await resultText(page, '"John"');
  assert.match(text, /"email": "client@example.com"/);
  assert.match(text, /"type": "CLIENT"/);
  // Beside the data, what the answer cost upstream.
  assert.match(text, /"pixgateCost"/);
  assert.match(text, /"endpoints"/);

  // The sandbox's credentials are in the headers pane, for the user to see and change.
  const headers = await page.locator(".graphiql-editor-tool").innerText();
  assert.match(headers, /X-Pixelz-Email/);

  await page.screenshot({ path: join(screenshots, "graphiql.png") });
  assert.deepEqual(foreign, [], "no request may leave the machine");
  assert.deepEqual(errors, []);
  await context.close();
});

test("GraphiQL runs a subscription over the WebSocket route until the image is delivered", async () => {
  const { submitPixelzImage } = await graphql(
    'mutation { submitPixelzImage(input: { imageUrls: ["https://images.example.com/graphiql.jpg"] }) { ticket } }',
  );
  const subscription = `subscription { pixelzImageStatusChanged(tickets: ["${submitPixelzImage.ticket}"]) { ticket statusId statusName } }`;
  const { context, page, foreign, errors, sockets } = await open(`/graphql?query=${encodeURIComponent(subscription)}`);
  await page.locator(".graphiql-container").waitFor();
  await page.locator(".graphiql-execute-button").click();
  const text = await resultText(page, '"Delivered"');
  assert.match(text, new RegExp(submitPixelzImage.ticket));
  assert.ok(
    sockets.some((url) => url === `${base.replace(/^http/, "ws")}/graphql/ws`),
    `a WebSocket to /graphql/ws, not ${sockets}`,
  );
  assert.deepEqual(foreign, []);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the demo lists clients with invoices and contracts, submits an image and follows it to delivered", async () => {
  const { context, page, foreign, errors, sockets } = await open("/demo");
  const clients = page.locator("#clients .client");
  await clients.first().waitFor();
  assert.ok((await clients.count()) >= 3, "several clients");
  const listed = await page.locator("#clients").innerText();
  assert.match(listed, /Invoice /);
  assert.match(listed, /Contract /);

  await page.locator("#image-url").fill("https://images.example.com/demo-test.jpg");
  await page.locator("#submit").click();
  await page.locator("#job[data-ticket]").waitFor();
  await page.locator('#image-status[data-final="true"]').waitFor();
  assert.equal(await page.locator("#image-status").innerText(), "Delivered");
  const history = await page.locator("#history li[data-status]").allInnerTexts();
  assert.ok(history.length >= 3, `the status changed live, step by step: ${history}`);
  assert.ok(sockets.some((url) => url.endsWith("/graphql/ws")));

  await page.screenshot({ path: join(screenshots, "demo.png"), fullPage: true });
  assert.deepEqual(foreign, [], "no request may leave the machine");
  assert.deepEqual(errors, []);
  await context.close();
});
