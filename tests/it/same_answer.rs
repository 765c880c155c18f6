//! The same question gets the same answer whatever was asked before: each
//! single-object query, asked on a cold gateway and again right after each kind
//! of list query (with and without relations), answers the same.

use pixgate::cli::ServeArgs;
use pixgate::sandbox::documented;
use pixgate::startup::Running;
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
