//! The same question gets the same answer whatever was asked before or beside it:
//! each single-object query, asked on a cold gateway and again right after each kind
//! of list query (with and without relations), answers the same; and each field,
//! asked alone and beside the fields that make the gateway fetch another copy of its
//! object, answers the same.

use pixgate::cli::ServeArgs;
use pixgate::startup::Running;
use pixgate_sandbox::documented;
use serde_json::{Value, json};

use crate::gateway::{gateway, graphql};

fn singles() -> Vec<String> {
    let client = documented::CLIENT_ID;
    let invoice = documented::INVOICE_ID;
    let contract = documented::CONTRACT_ID;
    let template = documented::TEMPLATE_ID;
    vec![
        format!(
            "{{ client(id: \"{client}\") {{ id email firstName lastName phone company jobTitle notes type status
               avatarColor isSample createdAt address {{ line1 city country countryId }} }} }}"
        ),
        format!(
            "{{ client(id: \"{client}\") {{ invoices(first: 3) {{ totalCount nodes {{ id number amount {{ amount }} }} }}
               contracts {{ id number status }} documents(first: 5) {{ nodes {{ id type }} }} collections(first: 2) {{ nodes {{ id }} }} }} }}"
        ),
        format!(
            "{{ invoice(id: \"{invoice}\") {{ id number status amount {{ amount currency }} dueDate
               lineItems {{ name quantity total {{ amount }} }} client {{ id firstName email }} }} }}"
        ),
        format!(
            "{{ contract(id: \"{contract}\") {{ id number status statusName createdAt sentAt dueDate signedAt
               client {{ id firstName email phone }} template {{ id name dueDays }} }} }}"
        ),
        format!(
            "{{ contract(id: \"{contract}\") {{ status client {{ email company }} template {{ name description htmlBody }} }} }}"
        ),
        format!(
            "{{ contractTemplate(id: \"{template}\") {{ id name description dueDays status createdAt updatedAt htmlBody
               variables {{ name }} signers {{ type title }} reminders {{ enabled subject }} documentSettings {{ watermark }} }} }}"
        ),
        format!(
            "{{ nodes(ids: [\"{client}\", \"{invoice}\", \"{contract}\", \"{template}\"]) {{ id
               ... on Client {{ email phone }} ... on Invoice {{ number amount {{ amount }} }}
               ... on Contract {{ status client {{ email }} template {{ name }} }} ... on ContractTemplate {{ name dueDays }} }} }}"
        ),
        format!(
            "{{ pixelzTemplate(id: \"{}\") {{ id templateId name price {{ amount currency }} outputFormat deliveryTimeInHours }} }}",
            documented::PIXELZ_TEMPLATE_ID
        ),
        format!(
            "{{ pixelzImage(by: {{ ticket: \"{}\" }}) {{ ticket status statusName finalImageUrls customerImageId productId }} }}",
            documented::DELIVERED_TICKET
        ),
        "{ pixelzAccount { email company contactPerson daysOfCredit balance { amount } } }".into(),
        "{ node(id: \"pzp_dGVzdCBwcm9kdWN0IDAx\") { id ... on PixelzProduct { productId doneCount todoCount } } }".into(),
    ]
}

fn lists() -> Vec<String> {
    let client = documented::CLIENT_ID;
    vec![
        "{ clients(first: 100) { nodes { id email } } }".into(),
        "{ clients(first: 10, search: \"john\") { nodes { id firstName } } }".into(),
        "{ invoices(first: 100) { nodes { id number } } }".into(),
        "{ invoices(first: 100) { nodes { id client { id email firstName } } } }".into(),
        "{ contracts(first: 45) { edges { node { id } } } }".into(),
        "{ contracts(first: 45) { nodes { id status client { id email } } } }".into(),
        "{ contracts(first: 45) { nodes { id template { id name } client { phone } } } }".into(),
        "{ contracts(first: 45) { nodes { id sentAt content { renderedHtml } } } }".into(),
        "{ contractTemplates { id name signers { type } } }".into(),
        "{ templates { ... on ContractTemplate { name } ... on PixelzTemplate { name price { amount } } } }".into(),
        "{ pixelzTemplates { id name price { amount } } }".into(),
        "{ pixelzImages(first: 100) { nodes { ticket status } } }".into(),
        "{ pixelzProducts(first: 10) { nodes { productId } } }".into(),
        format!(
            "{{ client(id: \"{client}\") {{ invoices(first: 50) {{ nodes {{ id }} }} contracts {{ id }}
               documents(first: 25) {{ nodes {{ id type }} }} collections(first: 10) {{ nodes {{ id name }} }} }} }}"
        ),
    ]
}

/// The answer, with the address of the gateway's own sandbox (in image URLs) made one.
async fn ask(gateway: &Running, query: &str) -> Value {
    let answer = graphql(gateway, query, &[]).await.to_string();
    let sandbox = gateway.sandbox().expect("on the sandbox").base_url();
    serde_json::from_str(&answer.replace(&sandbox, "http://sandbox")).unwrap()
}

/// Every single query cold, then after each list on a gateway of its own; the number of pairs compared.
async fn compare(extras: bool) -> usize {
    let args = || ServeArgs { sandbox_extras: Some(extras), ..ServeArgs::default() };
    let singles = singles();
    let mut cold = Vec::new();
    for single in &singles {
        let answer = ask(&gateway(args()).await, single).await;
        assert!(answer.get("errors").is_none(), "{single}: {answer}");
        cold.push(answer);
    }
    let mut pairs = 0;
    for list in lists() {
        for (single, cold) in singles.iter().zip(&cold) {
            let gateway = gateway(args()).await;
            let listed = ask(&gateway, &list).await;
            assert!(listed.get("errors").is_none(), "{list}: {listed}");
            let after = ask(&gateway, single).await;
            assert_eq!(&after, cold, "extras: {extras}\nafter {list}\n{single}");
            pairs += 1;
        }
    }
    pairs
}

#[tokio::test]
async fn every_single_object_query_answers_the_same_after_every_list() {
    let pairs = compare(false).await;
    assert_eq!(pairs, 14 * 11);
}

#[tokio::test]
async fn the_same_holds_where_the_server_sends_more_than_the_documents_show() {
    let pairs = compare(true).await;
    assert_eq!(pairs, 14 * 11);
}

#[tokio::test]
async fn a_contract_after_a_list_without_relations_has_its_client_and_template() {
    let query = format!(
        "{{ contract(id: \"{}\") {{ client {{ id firstName email phone }} template {{ id name }} }} }}",
        documented::CONTRACT_ID
    );
    let cold = graphql(&gateway(ServeArgs::default()).await, &query, &[]).await;
    let gateway = gateway(ServeArgs::default()).await;
    graphql(&gateway, "{ contracts(first: 45) { edges { node { id } } } }", &[]).await;
    let after = graphql(&gateway, &query, &[]).await;
    assert_eq!(after, cold);
    // The client as the contract recorded them, as the documents' detail example shows.
    assert_eq!(
        after["data"]["contract"],
        json!({
            "client": { "id": documented::CLIENT_ID, "firstName": "John", "email": "john@example.com", "phone": "+1-555-123-4567" },
            "template": { "id": documented::TEMPLATE_ID, "name": "Wedding Photography Contract" },
        })
    );
}

const CONTRACT_FIELDS: &[&str] = &[
    "number",
    "status",
    "statusName",
    "createdAt",
    "dueDate",
    "signedAt",
    "sentAt",
    "client { id }",
    "client { email }",
    "client { firstName lastName }",
    "client { phone }",
    "client { company }",
    "template { name }",
    "template { dueDays }",
    "template { description }",
];
/// Fields no list item or summary carries: beside them, every other field's copy is fetched too.
const CONTRACT_NEIGHBOURS: &str = "sentAt content { renderedHtml } signatures { signerName }
    client { company notes phone } template { htmlBody description signers { title } }";

/// Where a field sits in a query (`{}` for the fields), the fields asked one by one, and
/// the neighbours that force the other copy of their object.
fn paths() -> Vec<(String, &'static [&'static str], &'static str)> {
    let (client, contract) = (documented::CLIENT_ID, documented::CONTRACT_ID);
    vec![
        ("{ contracts(first: 45) { nodes { id {} } } }".into(), CONTRACT_FIELDS, CONTRACT_NEIGHBOURS),
        (format!("{{ contract(id: \"{contract}\") {{ id {{}} }} }}"), CONTRACT_FIELDS, CONTRACT_NEIGHBOURS),
        (format!("{{ client(id: \"{client}\") {{ contracts {{ id {{}} }} }} }}"), CONTRACT_FIELDS, CONTRACT_NEIGHBOURS),
        (
            "{ invoices(first: 100) { nodes { id {} } } }".into(),
            &["number", "client { email }", "client { firstName lastName }", "client { phone }", "client { company }"],
            "client { company notes }",
        ),
        (
            "{ contractTemplates { id {} } }".into(),
            &[
                "name",
                "description",
                "dueDays",
                "status",
                "createdAt",
                "updatedAt",
                "signers { type title }",
                "reminders { enabled subject }",
            ],
            "htmlBody variables { name } signers { title } reminders { subject }",
        ),
        (
            "{ pixelzTemplates { id {} } }".into(),
            &["templateId", "name", "price { amount currency }", "outputFormat", "deliveryTimeInHours"],
            "outputFormat deliveryTimeInHours callbackUrl",
        ),
    ]
}

/// `beside` cut down to the keys `alone` has, at every depth.
fn project(alone: &Value, beside: &Value) -> Value {
    match (alone, beside) {
        (Value::Object(keys), Value::Object(values)) => keys
            .iter()
            .map(|(key, inner)| (key.clone(), project(inner, values.get(key).unwrap_or(&Value::Null))))
            .collect(),
        (Value::Array(items), Value::Array(values)) => {
            Value::Array(items.iter().zip(values).map(|(item, value)| project(item, value)).collect())
        }
        _ => beside.clone(),
    }
}

/// Each field alone and beside its neighbours, on one gateway; the number of fields compared.
async fn fields_beside_neighbours(extras: bool) -> usize {
    // Over a hundred queries in a burst: the rate limits are another test's concern.
    let args = ServeArgs {
        sandbox_extras: Some(extras),
        rate_limit_ip: Some(0),
        rate_limit_tenant: Some(0),
        ..ServeArgs::default()
    };
    let gateway = gateway(args).await;
    let mut compared = 0;
    for (path, fields, neighbours) in paths() {
        for field in fields {
            let alone = ask(&gateway, &path.replace("{}", field)).await;
            let beside = ask(&gateway, &path.replace("{}", &format!("{field} {neighbours}"))).await;
            assert!(
                alone.get("errors").is_none() && beside.get("errors").is_none(),
                "{path} {field}: {alone} {beside}"
            );
            assert_eq!(alone, project(&alone, &beside), "extras: {extras}\n{field} in {path}\nbeside {neighbours}");
            compared += 1;
        }
    }
    compared
}

#[tokio::test]
async fn every_field_answers_the_same_beside_any_neighbour() {
    assert_eq!(fields_beside_neighbours(false).await, 3 * 15 + 5 + 8 + 5);
    assert_eq!(fields_beside_neighbours(true).await, 3 * 15 + 5 + 8 + 5);
}

/// The documents' two copies of CON-001 disagree; each path answers from its own, as ARCHITECTURE.md says.
#[tokio::test]
async fn a_contract_reads_the_list_through_the_list_and_its_own_endpoint_by_id() {
    let gateway = gateway(ServeArgs::default()).await;
    let fields = "status signedAt client { email company } template { name }";
    let listed = ask(&gateway, &format!("{{ contracts(first: 45) {{ nodes {{ id {fields} sentAt }} }} }}")).await;
    let con_001 = listed["data"]["contracts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == documented::CONTRACT_ID)
        .cloned()
        .unwrap();
    let record = json!({ "email": "john@example.com", "company": null });
    assert_eq!(con_001["status"], "SENT");
    assert_eq!(con_001["signedAt"], Value::Null);
    assert_eq!(con_001["sentAt"], "2025-08-07T10:35:00+00:00");
    assert_eq!(con_001["client"], record);
    let single = ask(&gateway, &format!("{{ contract(id: \"{}\") {{ {fields} }} }}", documented::CONTRACT_ID)).await;
    assert_eq!(single["data"]["contract"]["status"], "SIGNED");
    assert_eq!(single["data"]["contract"]["signedAt"], "2025-08-10T14:22:00+00:00");
    assert_eq!(single["data"]["contract"]["client"], record);
    let client = ask(&gateway, &format!("{{ client(id: \"{}\") {{ email }} }}", documented::CLIENT_ID)).await;
    assert_eq!(client["data"]["client"]["email"], "client@example.com");
}
