// The pixgate demo: plain JavaScript, fetch for queries and mutations, the
// graphql-ws client (from npm, served by the gateway) for the live status.
"use strict";

const endpoint = "/graphql";
const subscriptions = window.location.origin.replace(/^http/, "ws") + "/graphql/ws";

const STUDIO = `query Studio {
  clients(first: 8) {
    totalCount
    edges { node {
      id firstName lastName email
      invoices(first: 3) { totalCount edges { node { number status amount { amount currency } amountDue { amount currency } } } }
      contracts { number statusName }
    } }
  }
}`;

const SUBMIT = `mutation Submit($url: String!) {
  submitPixelzImage(input: { imageUrls: [$url] }) { ticket image { statusName } }
}`;

const FOLLOW = `subscription Follow($ticket: ID!) {
  pixelzImageStatusChanged(tickets: [$ticket]) { ticket statusId statusName finalImageUrls }
}`;

/** Statuses after which nothing changes. */
const FINAL = new Set([0, 80, 90, 100, 999]);

async function graphql(query, variables) {
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  if (body.errors && body.errors.length) {
    throw new Error(body.errors.map((e) => e.message).join("; "));
  }
  return body.data;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function showClients() {
  const status = document.getElementById("clients-status");
  try {
    const { clients } = await graphql(STUDIO);
    const list = document.getElementById("clients");
    for (const { node: client } of clients.edges) {
      const item = element("li", undefined, "client");
      item.dataset.clientId = client.id;
      item.append(element("h3", [client.firstName, client.lastName].filter(Boolean).join(" ")));
      item.append(element("div", client.email || "", "email"));
      const details = element("ul");
      for (const { node: invoice } of client.invoices.edges) {
        // Pixieset's documents show an invoice's number and amount; status and amount due only when a server sends them.
        const parts = [`Invoice ${invoice.number}`];
        // A currency only where Pixieset names one: its documents write cents and none.
        const money = ({ amount, currency }) => (currency ? `${amount} ${currency}` : amount);
        if (invoice.amount) parts.push(money(invoice.amount));
        if (invoice.status) parts.push(invoice.status);
        if (invoice.amountDue) parts.push(`due ${money(invoice.amountDue)}`);
        details.append(element("li", parts.join(" · "), "invoice"));
      }
      for (const contract of client.contracts) {
        details.append(element("li", `Contract ${contract.number} · ${contract.statusName}`, "contract"));
      }
      if (!details.children.length) details.append(element("li", "No invoices or contracts yet", "muted"));
      item.append(details);
      list.append(item);
    }
    document.getElementById("client-count").textContent = `(${clients.edges.length} of ${clients.totalCount})`;
    status.remove();
  } catch (error) {
    status.textContent = `Could not load the clients: ${error.message}`;
    status.className = "error";
  }
}

const socket = graphqlWs.createClient({ url: subscriptions, lazy: true });

function follow(ticket) {
  const status = document.getElementById("image-status");
  const history = document.getElementById("history");
  const button = document.getElementById("submit");
  socket.subscribe(
    { query: FOLLOW, variables: { ticket } },
    {
      next: ({ data, errors }) => {
        if (errors) {
          history.append(element("li", errors.map((e) => e.message).join("; "), "error"));
          return;
        }
        const image = data.pixelzImageStatusChanged;
        status.textContent = image.statusName;
        status.dataset.status = image.statusName;
        status.dataset.final = String(FINAL.has(image.statusId));
        const entry = element("li", `${new Date().toLocaleTimeString()} · ${image.statusName}`);
        entry.dataset.status = image.statusName;
        history.append(entry);
      },
      error: (error) => {
        history.append(element("li", `The live status stopped: ${error.message || error}`, "error"));
        button.disabled = false;
      },
      complete: () => {
        history.append(element("li", "Finished: no more changes.", "muted"));
        button.disabled = false;
      },
    },
  );
}

document.getElementById("submit-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = document.getElementById("submit");
  const job = document.getElementById("job");
  button.disabled = true;
  document.getElementById("history").replaceChildren();
  try {
    const url = document.getElementById("image-url").value;
    const { submitPixelzImage } = await graphql(SUBMIT, { url });
    job.textContent = `Ticket ${submitPixelzImage.ticket}`;
    job.dataset.ticket = submitPixelzImage.ticket;
    job.className = "";
    follow(submitPixelzImage.ticket);
  } catch (error) {
    job.textContent = `Could not send the image: ${error.message}`;
    job.className = "error";
    button.disabled = false;
  }
});

showClients();
