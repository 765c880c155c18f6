//! Pixelz writes: images (submit, white glove, delete, reject), templates, contacts.

use async_graphql::{ComplexObject, Context, Error, ErrorExtensions as _, ID, InputObject, Object, SimpleObject};

use super::super::context::pixelz;
use super::super::error::from_upstream;
use super::super::ids;
use super::super::mutation::validate::{Check, is_email};
use super::super::mutation::{UserError, UserErrorCode, as_user_errors};
use super::{
    PixelzAlignment, PixelzBackground, PixelzImage, PixelzMarginKind, PixelzOutputFormat, PixelzResize, PixelzShadow,
    PixelzTemplate, PixelzUnit, template_by_number,
};
use crate::error_code::ErrorCode;
use crate::upstream::pixelz::wire;

use super::submission::{MAX_IMAGE_ID, Submission, deadline, submission, submit};

/// An image to retouch with a template.
#[derive(InputObject)]
pub struct SubmitPixelzImageInput {
    /// One to five image URLs (http or https); several are combined into one image.
    pub image_urls: Vec<String>,
    /// The template, by id (`pzt_…`) or number; the account's default when absent.
    pub template_id: Option<ID>,
    /// A reference image or swatch for colour matching.
    pub color_reference_url: Option<String>,
    /// Where Pixelz reports the finished image; this gateway's webhook when absent.
    pub callback_url: Option<String>,
    /// Your own id for the image.
    pub customer_image_id: Option<String>,
    /// Images of one product are retouched to a consistent standard.
    pub product_id: Option<String>,
    /// The Pixieset client (`cl_…`) the image is for; it then shows in the client's
    /// `retouchedImages` and as the image's `client`. pixgate keeps this link itself: Pixelz
    /// is not told, and `productId` stays yours. Needs Pixieset credentials too.
    pub client_id: Option<ID>,
    /// UTC, as `2026-12-31T18:00:00Z` or `2026-12-31 18:00:00`; at least the account's minimum (24 hours by default) from now.
    pub deadline: Option<String>,
    /// Echoed in the payload; with no `Idempotency-Key` header, a retry with the same value submits nothing new.
    pub client_mutation_id: Option<String>,
}

/// An image for Pixelz to retouch with a template of its choosing.
#[derive(InputObject)]
pub struct RequestWhiteGloveServiceInput {
    pub image_urls: Vec<String>,
    pub color_reference_url: Option<String>,
    pub callback_url: Option<String>,
    pub customer_image_id: Option<String>,
    pub product_id: Option<String>,
    /// As `submitPixelzImage`'s.
    pub client_id: Option<ID>,
    pub client_mutation_id: Option<String>,
}

/// A submitted image.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct SubmitPixelzImagePayload {
    /// Pixelz's ticket for the new image.
    pub ticket: Option<ID>,
    pub is_trial: Option<bool>,
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
}

#[ComplexObject]
impl SubmitPixelzImagePayload {
    /// The image as Pixelz now reports it.
    async fn image(&self, ctx: &Context<'_>) -> Result<Option<PixelzImage>, Error> {
        let Some(ticket) = &self.ticket else { return Ok(None) };
        Ok(Some(PixelzImage(pixelz(ctx)?.image(ticket).await.map_err(from_upstream)?)))
    }
}

/// An image, by its ticket or by your own customer image id: exactly one.
#[derive(InputObject)]
pub struct PixelzImageTargetInput {
    pub ticket: Option<ID>,
    pub customer_image_id: Option<String>,
    /// With reject: what to change.
    pub comment: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct PixelzImageChangePayload {
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
    #[graphql(skip)]
    pub target: Option<wire::ImageRef>,
}

#[ComplexObject]
impl PixelzImageChangePayload {
    /// The image after the change.
    async fn image(&self, ctx: &Context<'_>) -> Result<Option<PixelzImage>, Error> {
        let pixelz = pixelz(ctx)?;
        let image = match &self.target {
            None => return Ok(None),
            Some(wire::ImageRef::Ticket(ticket)) => pixelz.image(ticket).await,
            Some(wire::ImageRef::CustomerImageId(id)) => pixelz.image_by_customer_id(id).await,
        };
        Ok(Some(PixelzImage(image.map_err(from_upstream)?)))
    }
}

/// A new Pixelz template.
#[derive(InputObject)]
pub struct CreatePixelzTemplateInput {
    /// Letters, digits, `(`, `)`, `_` and spaces.
    pub name: String,
    pub output_format: PixelzOutputFormat,
    /// 24, 72 or 168.
    pub delivery_time_in_hours: i64,
    pub background: PixelzBackground,
    /// `RRGGBB`; required with COLOR and VERTICAL_GRADIENT.
    pub background_color: Option<String>,
    /// `RRGGBB`; required with VERTICAL_GRADIENT.
    pub background_gradient_color: Option<String>,
    pub resize: Option<PixelzResize>,
    pub resize_unit: Option<PixelzUnit>,
    pub resize_width: Option<i64>,
    pub resize_height: Option<i64>,
    pub resize_min_size: Option<i64>,
    pub resize_max_size: Option<i64>,
    pub margins: Option<PixelzMarginKind>,
    pub margin_top: Option<i64>,
    pub margin_bottom: Option<i64>,
    pub margin_left: Option<i64>,
    pub margin_right: Option<i64>,
    pub vertical_alignment: Option<PixelzAlignment>,
    pub shadow: Option<PixelzShadow>,
    pub keep_mannequin: Option<bool>,
    pub keep_model: Option<bool>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct CreatePixelzTemplatePayload {
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
    #[graphql(skip)]
    pub number: Option<String>,
}

#[ComplexObject]
impl CreatePixelzTemplatePayload {
    /// The new template.
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<PixelzTemplate>, Error> {
        match &self.number {
            Some(number) => template_by_number(ctx, number).await.map(Some),
            None => Ok(None),
        }
    }
}

/// A new Pixelz customer account, created with the request's credentials acting as its developer.
#[derive(InputObject)]
pub struct CreatePixelzContactInput {
    pub email: String,
    pub name: String,
    /// ISO 3166-1 alpha-2, e.g. `US`.
    pub country_code: String,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub phone: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip_code: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreatePixelzContactPayload {
    pub email: Option<String>,
    /// The new account's API key; shown once, keep it secret.
    pub api_key: Option<String>,
    pub user_errors: Vec<UserError>,
    pub client_mutation_id: Option<String>,
}

fn target(check: &mut Check, input: &PixelzImageTargetInput) -> Option<wire::ImageRef> {
    match (&input.ticket, input.customer_image_id.as_deref().map(str::trim)) {
        (Some(ticket), None) => match ids::pixelz_ticket(ticket) {
            Ok(ticket) => Some(wire::ImageRef::Ticket(ticket.into())),
            Err(e) => {
                check.fail(&["ticket"], UserErrorCode::Invalid, e.message);
                None
            }
        },
        (None, Some(id)) => check
            .optional_text(&["customerImageId"], Some(id), MAX_IMAGE_ID)
            .map(wire::ImageRef::CustomerImageId)
            .or_else(|| {
                check.fail(&["customerImageId"], UserErrorCode::Required, "cannot be empty");
                None
            }),
        _ => {
            check.fail(&["ticket"], UserErrorCode::Required, "give `ticket` or `customerImageId`, exactly one");
            None
        }
    }
}

/// What can be done to an image once it is in.
#[derive(Clone, Copy)]
enum ImageChange {
    Delete,
    Reject,
}

/// Deletes or rejects the image the input names, once the input checks out.
async fn change_image(
    ctx: &Context<'_>,
    input: PixelzImageTargetInput,
    change: ImageChange,
) -> Result<PixelzImageChangePayload, Error> {
    let cmi = input.client_mutation_id.clone();
    let payload = |user_errors, target| PixelzImageChangePayload { user_errors, client_mutation_id: cmi, target };
    let mut check = Check::default();
    let target = target(&mut check, &input);
    let comment = match change {
        ImageChange::Reject => check.optional_text(&["comment"], input.comment.as_deref(), 2000),
        ImageChange::Delete => None,
    };
    let target = match (target, check.is_clean()) {
        (Some(target), true) => target,
        _ => return Ok(payload(check.finish().err().unwrap_or_default(), None)),
    };
    let pixelz = pixelz(ctx)?;
    let outcome = match change {
        ImageChange::Delete => pixelz.delete_image(&target).await,
        ImageChange::Reject => pixelz.reject_image(&target, comment.as_deref()).await,
    };
    match outcome {
        Ok(()) => Ok(payload(vec![], Some(target))),
        Err(e) => Ok(payload(as_user_errors(e, &["input", "ticket"])?, None)),
    }
}

#[derive(Default)]
pub struct PixelzMutation;

#[Object]
impl PixelzMutation {
    /// Sends an image to Pixelz for retouching. Pixelz reports the finished image to
    /// this gateway's webhook unless `callbackUrl` says otherwise.
    async fn submit_pixelz_image(
        &self,
        ctx: &Context<'_>,
        input: SubmitPixelzImageInput,
    ) -> Result<SubmitPixelzImagePayload, Error> {
        let mut submitting = submission(ctx, Submission::from(&input)).await?;
        let check = &mut submitting.check;
        submitting.image.template_id = input.template_id.and_then(|id| match ids::pixelz_template(&id) {
            Ok(number) => number.parse().ok(),
            Err(e) => {
                check.fail(&["templateId"], UserErrorCode::Invalid, e.message);
                None
            }
        });
        submitting.image.deadline = deadline(check, input.deadline.as_deref());
        submit(ctx, submitting, false, "submitPixelzImage", input.client_mutation_id).await
    }

    /// Sends an image to Pixelz's White Glove Service, which picks the template.
    async fn request_white_glove_service(
        &self,
        ctx: &Context<'_>,
        input: RequestWhiteGloveServiceInput,
    ) -> Result<SubmitPixelzImagePayload, Error> {
        let submitting = submission(ctx, Submission::from(&input)).await?;
        submit(ctx, submitting, true, "requestWhiteGloveService", input.client_mutation_id).await
    }

    /// Deletes an image; Pixelz refuses while it is in production.
    async fn delete_pixelz_image(
        &self,
        ctx: &Context<'_>,
        input: PixelzImageTargetInput,
    ) -> Result<PixelzImageChangePayload, Error> {
        change_image(ctx, input, ImageChange::Delete).await
    }

    /// Sends a finished image back for another round of retouching.
    #[graphql(deprecation = "Pixelz deprecates PUT Image/Reject; it still works")]
    async fn reject_pixelz_image(
        &self,
        ctx: &Context<'_>,
        input: PixelzImageTargetInput,
    ) -> Result<PixelzImageChangePayload, Error> {
        change_image(ctx, input, ImageChange::Reject).await
    }

    /// Creates a retouching template.
    #[graphql(deprecation = "Pixelz deprecates POST Template; it still works")]
    async fn create_pixelz_template(
        &self,
        ctx: &Context<'_>,
        input: CreatePixelzTemplateInput,
    ) -> Result<CreatePixelzTemplatePayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let mut check = Check::default();
        let name = check.text(&["name"], &input.name, 100);
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || "() _".contains(c)) {
            check.fail(&["name"], UserErrorCode::Invalid, "takes letters, digits, (, ), _ and spaces only");
        }
        if ![24, 72, 168].contains(&input.delivery_time_in_hours) {
            check.fail(&["deliveryTimeInHours"], UserErrorCode::Invalid, "must be 24, 72 or 168");
        }
        let color = check.hex_color(&["backgroundColor"], input.background_color.as_deref());
        let gradient = check.hex_color(&["backgroundGradientColor"], input.background_gradient_color.as_deref());
        let jpeg = matches!(input.output_format, PixelzOutputFormat::Jpg | PixelzOutputFormat::Jpeg);
        match input.background {
            PixelzBackground::Color if color.is_none() => {
                check.fail(&["backgroundColor"], UserErrorCode::Required, "is required with a COLOR background")
            }
            PixelzBackground::VerticalGradient if color.is_none() || gradient.is_none() => check.fail(
                &[if color.is_none() { "backgroundColor" } else { "backgroundGradientColor" }],
                UserErrorCode::Required,
                "both colours are required with a VERTICAL_GRADIENT background",
            ),
            PixelzBackground::Transparent if jpeg => check.fail(
                &["background"],
                UserErrorCode::Invalid,
                "a transparent background cannot be saved as JPG or JPEG",
            ),
            _ => {}
        }
        let size = |check: &mut Check, field: &'static str, value: Option<i64>| {
            value.map(|v| check.range(&[field], v, 1..=20_000))
        };
        let margin = |check: &mut Check, field: &'static str, value: Option<i64>| {
            value.map(|v| check.range(&[field], v, 0..=10_000))
        };
        let template = wire::NewTemplate {
            name,
            output_format: format!("{:?}", input.output_format).to_ascii_uppercase(),
            delivery_hours: input.delivery_time_in_hours,
            background_type: input.background.id(),
            background_color: color,
            background_gradient_color: gradient,
            resize_type: input.resize.map(PixelzResize::id),
            resize_unit: input.resize_unit.map(PixelzUnit::id),
            resize_height: size(&mut check, "resizeHeight", input.resize_height),
            resize_width: size(&mut check, "resizeWidth", input.resize_width),
            resize_min_size: size(&mut check, "resizeMinSize", input.resize_min_size),
            resize_max_size: size(&mut check, "resizeMaxSize", input.resize_max_size),
            margin_type: input.margins.map(PixelzMarginKind::id),
            margin_top: margin(&mut check, "marginTop", input.margin_top),
            margin_bottom: margin(&mut check, "marginBottom", input.margin_bottom),
            margin_left: margin(&mut check, "marginLeft", input.margin_left),
            margin_right: margin(&mut check, "marginRight", input.margin_right),
            vertical_alignment: input.vertical_alignment.map(PixelzAlignment::id),
            shadow_type: input.shadow.map(PixelzShadow::id),
            keep_mannequin: input.keep_mannequin,
            keep_model: input.keep_model,
        };
        if let Err(user_errors) = check.finish() {
            return Ok(CreatePixelzTemplatePayload { user_errors, client_mutation_id: cmi, number: None });
        }
        match pixelz(ctx)?.create_template(&template).await {
            Ok(created) => Ok(CreatePixelzTemplatePayload {
                user_errors: vec![],
                client_mutation_id: cmi,
                number: Some(created.template_id),
            }),
            Err(e) => Ok(CreatePixelzTemplatePayload {
                user_errors: as_user_errors(e, &["input"])?,
                client_mutation_id: cmi,
                number: None,
            }),
        }
    }

    /// Creates a Pixelz customer account, with the request's Pixelz credentials as its developer.
    #[graphql(deprecation = "Pixelz deprecates POST Contact; it still works")]
    async fn create_pixelz_contact(
        &self,
        ctx: &Context<'_>,
        input: CreatePixelzContactInput,
    ) -> Result<CreatePixelzContactPayload, Error> {
        let cmi = input.client_mutation_id.clone();
        let mut check = Check::default();
        let email = input.email.trim().to_string();
        if !is_email(&email) {
            check.fail(&["email"], UserErrorCode::Invalid, "is not an email address");
        }
        let country = input.country_code.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_alphabetic()) {
            check.fail(&["countryCode"], UserErrorCode::Invalid, "is not an ISO 3166-1 alpha-2 code");
        }
        let contact = wire::NewContact {
            email,
            name: check.text(&["name"], &input.name, 255),
            country_code: country,
            address_1: check.optional_text(&["address1"], input.address1.as_deref(), 255),
            address_2: check.optional_text(&["address2"], input.address2.as_deref(), 255),
            phone: check.optional_text(&["phone"], input.phone.as_deref(), 50),
            city: check.optional_text(&["city"], input.city.as_deref(), 255),
            state: check.optional_text(&["state"], input.state.as_deref(), 255),
            zip_code: check.optional_text(&["zipCode"], input.zip_code.as_deref(), 32),
        };
        let payload = |email, api_key, user_errors| CreatePixelzContactPayload {
            email,
            api_key,
            user_errors,
            client_mutation_id: cmi.clone(),
        };
        if let Err(user_errors) = check.finish() {
            return Ok(payload(None, None, user_errors));
        }
        let pixelz = pixelz(ctx)?;
        let credentials = pixelz.credentials();
        if credentials.developer_key().is_some() && credentials.developer_email().is_none() {
            // The partner's key with the caller's email would name no one Pixelz knows.
            return Err(ErrorCode::Unauthenticated
                .field_error(
                    "creating a Pixelz contact as the partner needs its email (PIXELZ_DEVELOPER_EMAIL) beside its key (PIXELZ_DEVELOPER_API_KEY)",
                )
                .extend_with(|_, ext| ext.set("upstream", "pixelz")));
        }
        match pixelz.create_contact(&contact).await {
            Ok(created) => Ok(payload(created.email.or(Some(contact.email)), Some(created.api_key), vec![])),
            Err(e) => Ok(payload(None, None, as_user_errors(e, &["input"])?)),
        }
    }
}
