//! The market's requests and answers: listings with what the platform verified about their
//! goods, and offers.

use crate::domain::inputs::{QuantityInput, UnitPrice};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{
    BigInt, Date, Integer, Nullable, Numeric, Text, Timestamptz, Uuid as SqlUuid,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /v1/listings`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewListing {
    pub lot_id: Uuid,
    pub quantity: QuantityInput,
    /// `fixed` (an asking price; buyers make offers). `auction`, `group` and `forward` are to
    /// come and refused for now (422 naming `mode`, see `docs/market.md`).
    #[schema(pattern = r"^fixed$")]
    pub mode: String,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    /// The asking price per unit.
    pub unit_price: UnitPrice,
    /// A lender selling the goods of its liquidating loan names the loan.
    #[serde(default)]
    pub loan_id: Option<Uuid>,
}

/// What the platform itself verified about a listing's goods: this, never the seller's word
/// and never its loans, is what buyers see.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Verified {
    pub commodity_code: String,
    pub commodity_name: String,
    pub unit: String,
    /// As graded at receipt, by inspection or by a downgrade after a breach.
    pub grade: String,
    /// As counted by the warehouse.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub quantity_on_hand: Decimal,
    pub packed_on: NaiveDate,
    pub expires_on: NaiveDate,
    /// The value factor of its age today (1 while fresh, down to the commodity's end factor).
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub freshness_factor: Decimal,
    /// Days since the platform received it; `null` for goods not yet received.
    pub days_in_custody: Option<i32>,
    pub warehouse_id: Option<Uuid>,
    pub warehouse_name: Option<String>,
    pub warehouse_address: Option<String>,
    /// In transit: the vessel and its expected arrival.
    pub voyage_id: Option<Uuid>,
    pub vessel_name: Option<String>,
    pub eta: Option<DateTime<Utc>>,
    /// Temperature breaches at its warehouse since it arrived there.
    pub breaches_in_custody: i64,
    pub last_inspected_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listing {
    pub id: Uuid,
    pub lot_id: Uuid,
    pub lot_code: String,
    pub seller_org_id: Uuid,
    pub seller_name: String,
    /// The seller's tier when it listed: listings rank by it.
    pub seller_tier: String,
    /// A liquidation's loan: shown to the seller and the platform only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loan_id: Option<Uuid>,
    pub mode: String,
    /// `open`, `closed` (all of it taken) or `withdrawn`.
    pub status: String,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    /// What offers may still take.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub quantity_available: Decimal,
    pub currency: String,
    #[serde(with = "crate::domain::decimal::price_option")]
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Decimal>,
    pub verified: Verified,
    pub opened_at: DateTime<Utc>,
    /// When the caller's tier sees it (buyers); the opening for everyone else.
    pub visible_from: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// One row of the listings query: a listing, its lot and where it is.
#[derive(Debug, diesel::QueryableByName)]
pub struct ListingRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub position: i64,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub lot_code: String,
    #[diesel(sql_type = SqlUuid)]
    pub seller_org_id: Uuid,
    #[diesel(sql_type = Text)]
    pub seller_name: String,
    #[diesel(sql_type = Text)]
    pub seller_tier: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub loan_id: Option<Uuid>,
    #[diesel(sql_type = Text)]
    pub mode: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Numeric)]
    pub quantity: Decimal,
    #[diesel(sql_type = Numeric)]
    pub quantity_available: Decimal,
    #[diesel(sql_type = Text)]
    pub currency: String,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub unit_price: Option<Decimal>,
    #[diesel(sql_type = Timestamptz)]
    pub opened_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    pub visible_from: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = Text)]
    pub commodity_name: String,
    #[diesel(sql_type = Text)]
    pub unit: String,
    #[diesel(sql_type = Text)]
    pub grade: String,
    #[diesel(sql_type = Numeric)]
    pub quantity_on_hand: Decimal,
    #[diesel(sql_type = Date)]
    pub packed_on: NaiveDate,
    #[diesel(sql_type = Date)]
    pub expires_on: NaiveDate,
    #[diesel(sql_type = Numeric)]
    pub freshness_factor: Decimal,
    #[diesel(sql_type = Nullable<Integer>)]
    pub days_in_custody: Option<i32>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub warehouse_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub warehouse_name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub warehouse_address: Option<String>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub voyage_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub vessel_name: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub eta: Option<DateTime<Utc>>,
    #[diesel(sql_type = BigInt)]
    pub breaches_in_custody: i64,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_inspected_at: Option<DateTime<Utc>>,
}

impl ListingRow {
    /// The answer; `sees_loan` for the seller's side and the platform.
    pub fn into_listing(self, sees_loan: bool) -> Listing {
        Listing {
            id: self.id,
            lot_id: self.lot_id,
            lot_code: self.lot_code,
            seller_org_id: self.seller_org_id,
            seller_name: self.seller_name,
            seller_tier: self.seller_tier,
            loan_id: self.loan_id.filter(|_| sees_loan),
            mode: self.mode,
            status: self.status,
            quantity: self.quantity,
            quantity_available: self.quantity_available,
            currency: self.currency,
            unit_price: self.unit_price,
            opened_at: self.opened_at,
            visible_from: self.visible_from,
            closed_at: self.closed_at,
            verified: Verified {
                commodity_code: self.commodity_code,
                commodity_name: self.commodity_name,
                unit: self.unit,
                grade: self.grade,
                quantity_on_hand: self.quantity_on_hand,
                packed_on: self.packed_on,
                expires_on: self.expires_on,
                freshness_factor: self.freshness_factor,
                days_in_custody: self.days_in_custody,
                warehouse_id: self.warehouse_id,
                warehouse_name: self.warehouse_name,
                warehouse_address: self.warehouse_address,
                voyage_id: self.voyage_id,
                vessel_name: self.vessel_name,
                eta: self.eta,
                breaches_in_custody: self.breaches_in_custody,
                last_inspected_at: self.last_inspected_at,
            },
        }
    }
}

/// `GET /v1/listings?…`: buyers see open listings their tier sees by now; sellers their own
/// in any status; the platform all.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListingQuery {
    #[param(pattern = r"^[A-Z][A-Z0-9_]{1,31}$")]
    pub commodity_code: Option<String>,
    #[param(max_length = 20, pattern = r"^[^\x00]*[^\s\x00][^\x00]*$")]
    pub grade: Option<String>,
    pub warehouse_id: Option<Uuid>,
    /// `fixed`, `auction`, `group` or `forward`.
    #[param(pattern = r"^(fixed|auction|group|forward)$")]
    pub mode: Option<String>,
    /// `open`, `closed` or `withdrawn` (sellers and the platform).
    #[param(pattern = r"^(scheduled|open|closed|awarded|unsold|withdrawn|filled|failed)$")]
    pub status: Option<String>,
    /// At least this much still available.
    pub min_quantity: Option<QuantityInput>,
    /// An asking price per unit at most this.
    pub max_price: Option<UnitPrice>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// `POST /v1/listings/{id}/offers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    pub quantity: QuantityInput,
    pub unit_price: UnitPrice,
    /// How long the offer stands: 1 to 168 hours (default 48).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 168)]
    pub valid_hours: Option<i32>,
}

/// `POST /v1/offers/{id}/reject`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rejection {
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, Serialize, utoipa::ToSchema)]
#[diesel(table_name = crate::db::schema::offers)]
pub struct Offer {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    /// `open`, `accepted`, `rejected`, `withdrawn`, `expired`, or `cancelled` (accepted, but
    /// its sale was cancelled unpaid).
    pub status: String,
    pub reason: Option<String>,
    pub expires_at: DateTime<Utc>,
    /// The sale an accepted offer became.
    pub sale_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[serde(skip)]
    pub created_by: Uuid,
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub decided_by: Option<Uuid>,
}

impl Offer {
    /// An open offer past its time reads as expired before the job marks it.
    pub fn as_of(mut self, now: DateTime<Utc>) -> Self {
        if self.status == "open" && self.expires_at <= now {
            self.status = "expired".into();
        }
        self
    }
}

/// `GET /v1/offers?listing_id=&status=`: a buyer's own offers, or the offers on a seller's
/// listings.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OfferQuery {
    pub listing_id: Option<Uuid>,
    /// `open`, `accepted`, `rejected`, `withdrawn`, `expired` or `cancelled`.
    #[param(pattern = r"^(open|accepted|rejected|withdrawn|expired|cancelled)$")]
    pub status: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// An accepted offer: the offer and the sale it became.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub offer: Offer,
    pub sale: crate::sales::model::Sale,
}
