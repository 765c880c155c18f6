//! Pixelz templates: how images are retouched, and at what price.

use std::sync::Arc;

use async_graphql::{Context, Enum, Error, ID, Object, SimpleObject};
use chrono::NaiveDate;

use super::super::context::pixelz;
use super::super::error::from_upstream;
use super::super::ids;
use super::super::money::MoneyObject;
use super::super::scalars::Date;
use crate::loaders::Pixelz;
use crate::upstream::UpstreamError;
use crate::upstream::pixelz::wire;

/// What happens behind the subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzBackground {
    /// The background is kept.
    Kept,
    /// Filled with `color`.
    Color,
    /// Transparent; never with JPG output.
    Transparent,
    /// A vertical gradient from `color` to `gradientColor`.
    VerticalGradient,
}

impl PixelzBackground {
    pub fn from_id(id: i64) -> Option<Self> {
        [Self::Kept, Self::Color, Self::Transparent, Self::VerticalGradient].get(usize::try_from(id).ok()?).copied()
    }

    pub fn id(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzResize {
    KeepCanvas,
    CanvasAspectRatio,
    FixedSize,
    MinMaxOnly,
}

impl PixelzResize {
    pub fn from_id(id: i64) -> Option<Self> {
        [Self::KeepCanvas, Self::CanvasAspectRatio, Self::FixedSize, Self::MinMaxOnly]
            .get(usize::try_from(id).ok()?)
            .copied()
    }

    pub fn id(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzUnit {
    Pixel,
    Millimeter,
    Inch,
}

impl PixelzUnit {
    pub fn from_id(id: i64) -> Option<Self> {
        [Self::Pixel, Self::Millimeter, Self::Inch].get(usize::try_from(id).ok()?).copied()
    }

    pub fn id(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzMarginKind {
    NotSet,
    Percent,
    Pixels,
}

impl PixelzMarginKind {
    pub fn from_id(id: i64) -> Option<Self> {
        [Self::NotSet, Self::Percent, Self::Pixels].get(usize::try_from(id).ok()?).copied()
    }

    pub fn id(self) -> i64 {
        self as i64
    }
}

/// Where the subject sits when it does not fill the canvas.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzAlignment {
    Top,
    Center,
    Bottom,
}

impl PixelzAlignment {
    pub fn from_id(id: i64) -> Option<Self> {
        match id {
            1 => Some(Self::Top),
            2 => Some(Self::Center),
            3 => Some(Self::Bottom),
            _ => None,
        }
    }

    pub fn id(self) -> i64 {
        self as i64 + 1
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzShadow {
    None,
    KeepOriginal,
    Drop,
}

impl PixelzShadow {
    pub fn from_id(id: i64) -> Option<Self> {
        [Self::None, Self::KeepOriginal, Self::Drop].get(usize::try_from(id).ok()?).copied()
    }

    pub fn id(self) -> i64 {
        self as i64
    }
}

/// Resizing: the enumeration Pixelz documents, and its raw number, which may be
/// one the documents do not list (the documented template answers 6).
#[derive(SimpleObject)]
pub struct PixelzResizeSettings {
    pub kind: Option<PixelzResize>,
    pub kind_id: Option<i64>,
    pub unit: Option<PixelzUnit>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub min_size: Option<i64>,
    pub max_size: Option<i64>,
}

#[derive(SimpleObject)]
pub struct PixelzMargins {
    pub kind: Option<PixelzMarginKind>,
    pub top: Option<i64>,
    pub bottom: Option<i64>,
    pub left: Option<i64>,
    pub right: Option<i64>,
    pub vertical_alignment: Option<PixelzAlignment>,
}

/// A Pixelz retouching template.
///
/// Reached through the template list, the list's item answers what it carries (its number,
/// name and price) and the template's endpoint the rest, whatever is asked beside them.
pub struct PixelzTemplate {
    number: String,
    listed: Option<Arc<wire::TemplateSummary>>,
    detail: Option<Arc<wire::Template>>,
}

impl PixelzTemplate {
    pub fn listed(template: Arc<wire::TemplateSummary>) -> Self {
        Self { number: template.template_id.clone(), listed: Some(template), detail: None }
    }

    pub fn detailed(template: Arc<wire::Template>) -> Self {
        Self { number: template.id.clone(), listed: None, detail: Some(template) }
    }

    /// By number: the template in full, whatever a list showed of it lately.
    pub async fn load(pixelz: &Pixelz, number: &str) -> Result<Self, UpstreamError> {
        Ok(Self::detailed(pixelz.template(number).await?))
    }

    pub fn global_id(&self) -> ID {
        ids::of_pixelz_template(&self.number)
    }

    /// From the copy at hand, else from the template in full.
    pub async fn display_name(&self, ctx: &Context<'_>) -> Result<String, Error> {
        let held = self.listed.as_ref().and_then(|t| t.template_name.clone());
        match held.or_else(|| self.detail.as_ref().and_then(|t| t.name.clone())) {
            Some(name) => Ok(name),
            None => self.detail(ctx).await?.name.clone().ok_or_else(|| {
                from_upstream(UpstreamError::Malformed {
                    endpoint: crate::upstream::pixelz::GET_TEMPLATE,
                    status: 200,
                    reason: "the template has no name".into(),
                    excerpt: String::new(),
                })
            }),
        }
    }

    async fn detail(&self, ctx: &Context<'_>) -> Result<Arc<wire::Template>, Error> {
        match &self.detail {
            Some(detail) => Ok(detail.clone()),
            None => pixelz(ctx)?.template(&self.number).await.map_err(from_upstream),
        }
    }
}

#[Object]
impl PixelzTemplate {
    /// Global id (`pzt_…`).
    pub async fn id(&self) -> ID {
        self.global_id()
    }

    /// Pixelz's own number for the template, as `submitPixelzImage` takes it.
    async fn template_id(&self) -> &str {
        &self.number
    }

    pub async fn name(&self, ctx: &Context<'_>) -> Result<String, Error> {
        self.display_name(ctx).await
    }

    /// The price of one image.
    async fn price(&self, ctx: &Context<'_>) -> Result<Option<MoneyObject>, Error> {
        if let Some(listed) = &self.listed {
            return Ok(listed.prices.first().and_then(wire::Price::money).map(MoneyObject));
        }
        Ok(self.detail(ctx).await?.price.as_ref().and_then(wire::Price::money).map(MoneyObject))
    }

    /// Null for a format Pixelz does not document; see `outputFormatName`.
    async fn output_format(&self, ctx: &Context<'_>) -> Result<Option<PixelzOutputFormat>, Error> {
        Ok(PixelzOutputFormat::parse(self.detail(ctx).await?.output_format.as_deref()))
    }

    /// The output format as Pixelz names it.
    async fn output_format_name(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.detail(ctx).await?.output_format.clone())
    }

    async fn delivery_time_in_hours(&self, ctx: &Context<'_>) -> Result<Option<i64>, Error> {
        Ok(self.detail(ctx).await?.delivery_time_in_hours)
    }

    async fn background(&self, ctx: &Context<'_>) -> Result<Option<PixelzBackground>, Error> {
        Ok(self.detail(ctx).await?.background_type.and_then(PixelzBackground::from_id))
    }

    /// Hexadecimal, `RRGGBB`.
    async fn background_color(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.detail(ctx).await?.background_color.clone())
    }

    async fn background_gradient_color(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.detail(ctx).await?.background_vertical_gradient_color.clone())
    }

    async fn resize(&self, ctx: &Context<'_>) -> Result<Option<PixelzResizeSettings>, Error> {
        let t = self.detail(ctx).await?;
        Ok(Some(PixelzResizeSettings {
            kind: t.resize_type.and_then(PixelzResize::from_id),
            kind_id: t.resize_type,
            unit: t.resize_unit.and_then(PixelzUnit::from_id),
            width: t.resize_width,
            height: t.resize_height,
            min_size: t.resize_min_size,
            max_size: t.resize_max_size,
        }))
    }

    async fn margins(&self, ctx: &Context<'_>) -> Result<Option<PixelzMargins>, Error> {
        let t = self.detail(ctx).await?;
        Ok(Some(PixelzMargins {
            kind: t.margin_type.and_then(PixelzMarginKind::from_id),
            top: t.margin_top,
            bottom: t.margin_bottom,
            left: t.margin_left,
            right: t.margin_right,
            vertical_alignment: t.vertical_alignment.and_then(PixelzAlignment::from_id),
        }))
    }

    async fn shadow(&self, ctx: &Context<'_>) -> Result<Option<PixelzShadow>, Error> {
        Ok(self.detail(ctx).await?.shadow_type.and_then(PixelzShadow::from_id))
    }

    async fn keep_mannequin(&self, ctx: &Context<'_>) -> Result<Option<bool>, Error> {
        Ok(self.detail(ctx).await?.is_kept_mannequin)
    }

    async fn keep_model(&self, ctx: &Context<'_>) -> Result<Option<bool>, Error> {
        Ok(self.detail(ctx).await?.is_kept_model)
    }

    /// Colours matched to a reference image.
    async fn color_matching(&self, ctx: &Context<'_>) -> Result<Option<bool>, Error> {
        if let Some(listed) = &self.listed
            && listed.color_matching.is_some()
        {
            return Ok(listed.color_matching);
        }
        Ok(self.detail(ctx).await?.color_matching)
    }

    /// Where Pixelz calls when an image of this template is done, unless the image names its own.
    async fn callback_url(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        Ok(self.detail(ctx).await?.callback_url.clone())
    }

    /// The day Pixelz created it: a `Date`, as Pixelz gives no time (`…On` for days, `…At` for moments).
    async fn created_on(&self, ctx: &Context<'_>) -> Result<Option<Date>, Error> {
        Ok(self.detail(ctx).await?.created_date.map(Date))
    }

    /// The day it last changed.
    async fn modified_on(&self, ctx: &Context<'_>) -> Result<Option<Date>, Error> {
        Ok(self.detail(ctx).await?.modified_date.map(|d: NaiveDate| Date(d)))
    }

    #[graphql(deprecation = "named `createdOn`: days are `…On`, moments `…At`")]
    async fn created_date(&self, ctx: &Context<'_>) -> Result<Option<Date>, Error> {
        self.created_on(ctx).await
    }

    #[graphql(deprecation = "named `modifiedOn`: days are `…On`, moments `…At`")]
    async fn modified_date(&self, ctx: &Context<'_>) -> Result<Option<Date>, Error> {
        self.modified_on(ctx).await
    }
}

/// An image format Pixelz delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Enum)]
pub enum PixelzOutputFormat {
    Jpg,
    Jpeg,
    Tif,
    Tiff,
    Png,
    Psd,
}

impl PixelzOutputFormat {
    fn parse(raw: Option<&str>) -> Option<Self> {
        Some(match raw?.trim().to_ascii_uppercase().as_str() {
            "JPG" => Self::Jpg,
            "JPEG" => Self::Jpeg,
            "TIF" => Self::Tif,
            "TIFF" => Self::Tiff,
            "PNG" => Self::Png,
            "PSD" => Self::Psd,
            _ => return None,
        })
    }
}
