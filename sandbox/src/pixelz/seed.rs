//! Deterministic Pixelz accounts: the sandbox studio with the documented
//! templates, images, product ids and invoices, and a partner account.

use chrono::{Duration, NaiveDate, TimeZone, Utc};

use super::model::*;
use crate::rng::Rng;
use crate::{
    PIXELZ_API_KEY, PIXELZ_APP_SECRET, PIXELZ_CONTACT_EMAIL, PIXELZ_PARTNER_EMAIL, PIXELZ_PARTNER_KEY,
    PIXELZ_PARTNER_SECRET,
};

/// The studio's image folder, as in the documented URLs `1000003/2000000/final/…`.
pub const STUDIO_FOLDER: i64 = 1_000_003;
const GENERATED_IMAGES: usize = 240;
const GENERATED_INVOICES: usize = 118;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("seed dates are valid")
}

fn color(matching: bool, setting: &str) -> Option<ColorSettings> {
    Some(ColorSettings { matching, matching_setting: setting.into(), ..ColorSettings::default() })
}

fn template(id: i64, name: &str, format: &str, price_cents: i64, color: Option<ColorSettings>) -> Template {
    Template {
        id,
        name: name.into(),
        output_format: format.into(),
        delivery_hours: 24,
        background_type: 1,
        background_color: Some("FFFFFF".into()),
        gradient_color: None,
        resize_type: 0,
        resize_unit: 0,
        resize_height: None,
        resize_width: None,
        resize_min: None,
        resize_max: None,
        margin_type: 0,
        margins: [0; 4],
        vertical_alignment: 2,
        shadow_type: 0,
        kept_mannequin: false,
        kept_model: false,
        price_cents,
        created: day(2020, 6, 1),
        modified: day(2020, 8, 1),
        color,
        label_id: 10,
        callback_url: None,
    }
}

fn documented_templates() -> Vec<Template> {
    let mut mannequin = template(21_032_576, "JPEG MANNEQUIN", "JPG", 200, color(true, "Follow reference"));
    mannequin.kept_mannequin = true;
    let png = template(203_863, "PNG", "PNG", 150, color(false, ""));
    let flats = template(20_635_295, "Flats", "JPG", 100, None);
    // The one template the documents show in full.
    let detailed = Template {
        background_type: 2,
        background_color: None,
        resize_type: 6,
        margin_type: 1,
        kept_model: true,
        created: day(2020, 6, 26),
        modified: day(2020, 8, 22),
        ..template(2_066_863, "PNG", "PNG", 225, color(true, "Follow reference"))
    };
    vec![mannequin, png, flats, detailed]
}

struct Seeded {
    ticket: String,
    customer_image_id: &'static str,
    product_id: String,
    status: u16,
    file_name: String,
    template_id: Option<i64>,
}

fn documented_images() -> Vec<Seeded> {
    let doc = |ticket: &str, customer: &'static str, product: &str, status: u16, file: &str| Seeded {
        ticket: ticket.into(),
        customer_image_id: customer,
        product_id: product.into(),
        status,
        file_name: file.into(),
        template_id: None,
    };
    vec![
        doc("33979dfe-5ea7-44ea-b3dd-7fde33bc37e9", "1234", "", 80, "myimage.jpg"),
        doc("0da2bbe9-4cf4-4c16-8e46-52048836a01b", "", "", 70, "myimage1.jpg"),
        doc("fb4751e1-4475-4bf8-a21f-1c0d8b1bb52d", "", "", 80, "myimage2.jpg"),
        doc("a37a1f55-7cd4-4474-db19-ac03e85538a7", "12345", "Crying Baby Tee 066", 70, "crying-baby-tee.jpg"),
        doc("8de624ab-593b-409d-8324-eb4890c4b867", "", "", 80, "myimage3.jpg"),
    ]
}

pub fn store(rng: &Rng) -> Store {
    let mut studio = Account {
        email: PIXELZ_CONTACT_EMAIL.into(),
        api_key: PIXELZ_API_KEY.into(),
        secret: PIXELZ_APP_SECRET.into(),
        contact_id: 4_667_360,
        folder: STUDIO_FOLDER,
        company: "Pixelz".into(),
        person: "John".into(),
        balance_cents: 8105,
        days_of_credit: 15,
        trial_images: 3,
        templates: documented_templates(),
        images: Vec::new(),
        invoices: Vec::new(),
        developer: None,
    };

    let mut seeded = documented_images();
    // The documented product statistics: 3 done and 5 to do, then 2 done and none to do.
    for (product, statuses) in
        [("test product 01", &[70, 80, 100, 10, 30, 60, 62, 64][..]), ("test product 02", &[80, 80][..])]
    {
        for (n, status) in statuses.iter().enumerate() {
            let slug = product.replace(' ', "-");
            seeded.push(Seeded {
                ticket: rng.uuid(),
                customer_image_id: "",
                product_id: product.into(),
                status: *status,
                file_name: format!("{slug}-{n}.jpg"),
                template_id: Some(21_032_576),
            });
        }
    }
    let template_ids: Vec<i64> = studio.templates.iter().map(|t| t.id).collect();
    for n in 0..GENERATED_IMAGES {
        // Every documented status appears, several times over.
        let status = STATUSES[n % STATUSES.len()].0;
        seeded.push(Seeded {
            ticket: rng.uuid(),
            customer_image_id: ["", "", "SKU-A"][n % 3],
            product_id: if n % 4 == 0 { String::new() } else { format!("SKU-{:04}", 1001 + n % 14) },
            status,
            file_name: format!("shoot-{n:03}.jpg"),
            template_id: Some(*rng.pick(&template_ids)),
        });
    }
    let start = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).single().expect("valid seed date");
    for (n, s) in seeded.into_iter().enumerate() {
        let customer_image_id =
            if s.customer_image_id == "SKU-A" { format!("SKU-A{n:04}") } else { s.customer_image_id.into() };
        studio.images.push(Image {
            id: n as u64 + 1,
            ticket: s.ticket,
            customer_image_id,
            product_id: s.product_id,
            template_id: s.template_id,
            status: s.status,
            is_paid: n % 5 == 0,
            created: start + Duration::hours(n as i64 * 53),
            file_name: s.file_name,
            image_urls: vec![format!("https://images.example.com/originals/{n}.jpg")],
            callback_url: None,
            developer_key: None,
            more_versions: Vec::new(),
            active: false,
        });
    }

    studio.invoices.push(Invoice {
        id: "INV-1315".into(),
        created: day(2012, 12, 31),
        amount_due: "0.0".into(),
        is_paid: true,
        literal_urls: Some(("/DownloadInvoice?invoiceNumber=INV-1315", "")),
    });
    studio.invoices.push(Invoice {
        id: "INV-1289".into(),
        created: day(2012, 12, 26),
        amount_due: "105.00".into(),
        is_paid: false,
        literal_urls: Some((
            "/Transactions?key=1234567890&returnUrl=http://test.com/testurl</PaymentUrl",
            "/DownloadInvoice?invoiceNumber=INV-1289",
        )),
    });
    for n in 0..GENERATED_INVOICES {
        let paid = n % 4 != 0;
        let cents = 500 + (rng.next_u64() % 40_000) as i64;
        studio.invoices.push(Invoice {
            id: format!("INV-{}", 1400 + n),
            created: day(2013, 1, 15) + Duration::days(n as i64 * 38),
            amount_due: if paid { "0.00".into() } else { format!("{}.{:02}", cents / 100, cents % 100) },
            is_paid: paid,
            literal_urls: None,
        });
    }
    studio.invoices.sort_by_key(|invoice| std::cmp::Reverse(invoice.created));

    let partner = Account {
        email: PIXELZ_PARTNER_EMAIL.into(),
        api_key: PIXELZ_PARTNER_KEY.into(),
        secret: PIXELZ_PARTNER_SECRET.into(),
        contact_id: 4_667_361,
        folder: 1_000_004,
        company: "Sandbox Partner".into(),
        person: "Pat".into(),
        balance_cents: 0,
        days_of_credit: 30,
        trial_images: 0,
        templates: vec![template(3_000_001, "Partner Default", "JPG", 120, None)],
        images: Vec::new(),
        invoices: Vec::new(),
        developer: None,
    };

    let next_image_id = studio.images.len() as u64 + 1;
    Store { accounts: vec![studio, partner], next_image_id, next_template_id: 2_017_982, next_contact_id: 4_700_000 }
}
