//! Money as GraphQL shows it: an exact decimal string, never a float.

use async_graphql::Object;

/// An amount of money.
pub struct MoneyObject(pub crate::money::Money);

#[Object(name = "Money")]
impl MoneyObject {
    /// The exact decimal amount, e.g. `"2500.00"`.
    async fn amount(&self) -> String {
        self.0.amount()
    }

    /// ISO 4217 code, e.g. `USD`; null where the upstream named none (Pixieset's documents
    /// never do, nor Pixelz's for invoices): no currency is assumed.
    async fn currency(&self) -> Option<&str> {
        self.0.currency()
    }

    /// The amount in the currency's minor unit (cents for USD; Pixieset's cents where it names no
    /// currency; the last digit written where Pixelz names none); null when it does not fit a 32-bit Int.
    async fn minor_units(&self) -> Option<i32> {
        i32::try_from(self.0.minor_units()).ok()
    }

    /// Digits after the decimal point: `minorUnits / 10^exponent` is the amount.
    async fn exponent(&self) -> u32 {
        self.0.exponent()
    }
}
