//! The market's requests and answers: listings with what the platform verified about their
//! goods, and offers.

use crate::domain::inputs::{Fraction, QuantityInput, UnitInterval, UnitPrice};
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
    /// `fixed` (an asking price, `unit_price`; buyers make offers), `auction` (ascending bids
    /// on the whole quantity; `auction` gives the terms), `group` (group buying; `group` gives
    /// the terms) or `forward` (goods in transit at `unit_price`, delivered on arrival; buyers
    /// make offers, and post a margin when one is accepted).
    #[schema(pattern = r"^(fixed|auction|group|forward)$")]
    pub mode: String,
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    /// The asking price per unit: required for `fixed` and `forward`, not taken otherwise.
    #[serde(default)]
    pub unit_price: Option<UnitPrice>,
    /// A lender selling the goods of its liquidating loan names the loan.
    #[serde(default)]
    pub loan_id: Option<Uuid>,
    /// The terms of an `auction`.
    #[serde(default)]
    pub auction: Option<AuctionTerms>,
    /// The terms of a `group` buy.
    #[serde(default)]
    pub group: Option<GroupTerms>,
    /// The terms of a `forward` sale (defaults when left out).
    #[serde(default)]
    pub forward: Option<ForwardTerms>,
}

/// A group buy's terms: every member buys at `group_price` if together they join at least
/// `min_total_quantity` by `deadline`; otherwise every payment returns.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupTerms {
    pub group_price: UnitPrice,
    /// At most the listing's quantity.
    pub min_total_quantity: QuantityInput,
    /// After now, within 30 days.
    pub deadline: DateTime<Utc>,
}

/// A forward sale's terms.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardTerms {
    /// The margin a buyer posts when its offer is accepted: this share of the sale's total
    /// (default 0.10).
    #[serde(default)]
    pub margin_rate: Option<Fraction>,
    /// Business days after the goods are unloaded to pay the rest (default 2).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 30)]
    pub payment_days: Option<i32>,
}

/// Where a group buy stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Group {
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub group_price: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub min_total_quantity: Decimal,
    pub deadline: DateTime<Utc>,
    /// What the members have joined so far.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub joined_quantity: Decimal,
    /// Why it failed: `below_minimum`, `goods_unavailable`.
    pub outcome: Option<String>,
    /// What the calling buyer joined, if it did.
    #[serde(
        with = "crate::domain::decimal::money_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub your_quantity: Option<Decimal>,
}

/// A forward sale's terms, on its listing.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Forward {
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub margin_rate: Decimal,
    pub payment_days: i32,
}

/// `POST /v1/listings/{id}/join`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewJoin {
    pub quantity: QuantityInput,
}

/// A buyer's place in a group buy: what it joined and paid into escrow.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Joined {
    pub listing_id: Uuid,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub quantity: Decimal,
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub paid: Decimal,
    pub currency: String,
    pub listing: Listing,
}

/// An auction's terms. Bids are per unit, on the whole quantity; defaults as `docs/market.md`
/// gives them.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuctionTerms {
    /// The least price per unit that wins.
    pub reserve_price: UnitPrice,
    /// Each bid above the high bid by at least this much per unit.
    pub min_increment: UnitPrice,
    /// When bidding opens (default now; at most 30 days ahead).
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    /// When bidding closes, unless late bids extend it: after `starts_at`, at most 30 days
    /// after it.
    pub ends_at: DateTime<Utc>,
    /// A valid bid this close to the end moves the end by as much (default 5).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 60)]
    pub extension_minutes: Option<i32>,
    /// How many times the end may move (default 3).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 20)]
    pub max_extensions: Option<i32>,
    /// Each bidder's deposit: this share of reserve × quantity, times its tier's factor
    /// (default 0.10).
    #[serde(default)]
    pub deposit_rate: Option<Fraction>,
    /// Business days the winner has to pay the rest (default 2).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 30)]
    pub payment_days: Option<i32>,
    /// An unsold auction is relisted with the reserve lowered by this share (default 0.10;
    /// below 1).
    #[serde(default)]
    pub relist_step: Option<UnitInterval>,
    /// How many times an unsold auction is relisted (default 2).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10)]
    pub max_relists: Option<i32>,
}

/// Where an auction stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Auction {
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub reserve_price: Decimal,
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub min_increment: Decimal,
    /// The least the next bid may be per unit (the reserve until the first bid).
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub minimum_bid: Decimal,
    pub starts_at: DateTime<Utc>,
    pub extension_minutes: i32,
    pub max_extensions: i32,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub deposit_rate: Decimal,
    /// The deposit the calling buyer posts with its first bid (its tier's factor applied).
    #[serde(
        with = "crate::domain::decimal::money_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub your_deposit: Option<Decimal>,
    pub bid_count: i32,
    /// Whether the calling buyer holds the high bid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub you_lead: Option<bool>,
    pub payment_days: i32,
    #[serde(with = "crate::domain::decimal::plain")]
    #[schema(value_type = String)]
    pub relist_step: Decimal,
    pub max_relists: i32,
    /// How many relistings came before this listing.
    pub relist_count: i32,
    pub relisted_from: Option<Uuid>,
    /// Awarded: the winner's sale (shown to the seller, the winner and the platform) and when
    /// it must be paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sale_id: Option<Uuid>,
    pub payment_due_at: Option<DateTime<Utc>>,
    /// Why it ended as it did: `no_bids`, `below_reserve`, `goods_unavailable`, `unpaid`.
    pub outcome: Option<String>,
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
    /// An auction's high bid per unit so far.
    #[serde(with = "crate::domain::decimal::price_option")]
    #[schema(value_type = Option<String>)]
    pub high_bid: Option<Decimal>,
    /// An auction's end (moved by late bids).
    pub ends_at: Option<DateTime<Utc>>,
    /// How many times late bids moved the end.
    pub extensions_used: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auction: Option<Auction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<Group>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
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
    #[diesel(sql_type = Nullable<Numeric>)]
    pub reserve_price: Option<Decimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub min_increment: Option<Decimal>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub starts_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub ends_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub extension_minutes: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub max_extensions: Option<i32>,
    #[diesel(sql_type = Integer)]
    pub extensions_used: i32,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub deposit_rate: Option<Decimal>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub payment_days: Option<i32>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub relist_step: Option<Decimal>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub max_relists: Option<i32>,
    #[diesel(sql_type = Integer)]
    pub relist_count: i32,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub relisted_from: Option<Uuid>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub high_bid: Option<Decimal>,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub high_bidder_org_id: Option<Uuid>,
    #[diesel(sql_type = Integer)]
    pub bid_count: i32,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    pub sale_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub payment_due_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub outcome: Option<String>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub min_total_quantity: Option<Decimal>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub deadline: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Numeric>)]
    pub margin_rate: Option<Decimal>,
    /// What the calling buyer joined of a group.
    #[diesel(sql_type = Nullable<Numeric>)]
    pub your_quantity: Option<Decimal>,
}

/// How the caller reads a listing: whether it sees the seller's side (the loan, the winner's
/// sale), and as a buyer, its org and its tier's deposit factor.
#[derive(Debug, Clone, Copy)]
pub struct Lens {
    pub sees_seller_side: bool,
    pub buyer: Option<(Uuid, Decimal)>,
}

impl ListingRow {
    fn auction(&self, lens: Lens) -> Option<Auction> {
        let reserve_price = self.reserve_price?;
        let min_increment = self.min_increment?;
        let deposit_rate = self.deposit_rate?;
        let standing = crate::domain::auction::Standing {
            reserve_price,
            min_increment,
            starts_at: self.starts_at?,
            ends_at: self.ends_at?,
            extension_minutes: self.extension_minutes?,
            max_extensions: self.max_extensions?,
            extensions_used: self.extensions_used,
            high_bid: self.high_bid,
        };
        let buyer = lens.buyer;
        let winner_sees = buyer.is_some_and(|(org, _)| Some(org) == self.high_bidder_org_id);
        Some(Auction {
            reserve_price,
            min_increment,
            minimum_bid: standing.minimum_bid(),
            starts_at: standing.starts_at,
            extension_minutes: standing.extension_minutes,
            max_extensions: standing.max_extensions,
            deposit_rate,
            your_deposit: buyer.map(|(_, factor)| {
                crate::domain::auction::deposit(
                    reserve_price,
                    self.quantity,
                    deposit_rate,
                    factor,
                    &self.currency,
                )
            }),
            bid_count: self.bid_count,
            you_lead: buyer.map(|_| winner_sees),
            payment_days: self.payment_days?,
            relist_step: self.relist_step?,
            max_relists: self.max_relists?,
            relist_count: self.relist_count,
            relisted_from: self.relisted_from,
            sale_id: self
                .sale_id
                .filter(|_| lens.sees_seller_side || winner_sees),
            payment_due_at: self.payment_due_at,
            outcome: self.outcome.clone(),
        })
    }

    fn quantity_committed(&self) -> Decimal {
        self.quantity - self.quantity_available
    }

    /// The answer, as `lens` reads it.
    pub fn into_listing(self, lens: Lens) -> Listing {
        let sees_loan = lens.sees_seller_side;
        let auction = self.auction(lens);
        let group = match (self.min_total_quantity, self.deadline, self.unit_price) {
            (Some(min_total_quantity), Some(deadline), Some(group_price)) => Some(Group {
                group_price,
                min_total_quantity,
                deadline,
                joined_quantity: self.quantity_committed(),
                outcome: self.outcome.clone(),
                your_quantity: self.your_quantity,
            }),
            _ => None,
        };
        // An auction before its start reads as scheduled.
        let status = match self.starts_at {
            Some(start) if self.status == "open" && start > Utc::now() => "scheduled".into(),
            _ => self.status,
        };
        let forward = self.margin_rate.map(|margin_rate| Forward {
            margin_rate,
            payment_days: self.payment_days.unwrap_or(2),
        });
        Listing {
            group,
            forward,
            high_bid: self.high_bid,
            ends_at: self.ends_at,
            extensions_used: auction.as_ref().map(|_| self.extensions_used),
            auction,
            id: self.id,
            lot_id: self.lot_id,
            lot_code: self.lot_code,
            seller_org_id: self.seller_org_id,
            seller_name: self.seller_name,
            seller_tier: self.seller_tier,
            loan_id: self.loan_id.filter(|_| sees_loan),
            mode: self.mode,
            status,
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

/// `POST /v1/listings/{id}/bids`: a price per unit for the whole quantity.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBid {
    pub unit_price: UnitPrice,
}

#[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::QueryableByName)]
#[diesel(table_name = crate::db::schema::bids)]
pub struct BidRow {
    pub id: Uuid,
    pub seq: i64,
    pub listing_id: Uuid,
    pub buyer_org_id: Uuid,
    pub unit_price: Decimal,
    pub placed_at: DateTime<Utc>,
    pub deposit: Decimal,
}

/// A bid. Every bidder sees every bid's price and time; who bid and the deposit only the
/// bidder itself, the seller and the platform.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Bid {
    pub id: Uuid,
    #[serde(skip)]
    pub seq: i64,
    pub listing_id: Uuid,
    #[serde(with = "crate::domain::decimal::price")]
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    /// By the server's clock, which alone decides whether a bid is in time.
    pub placed_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_org_id: Option<Uuid>,
    /// The deposit this bid moved into escrow (a bidder's first bid on a listing takes it).
    #[serde(
        with = "crate::domain::decimal::money_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub deposit: Option<Decimal>,
    /// For a buyer: whether the bid is its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mine: Option<bool>,
}

impl BidRow {
    /// The bid as a reader sees it: `buyer` is the calling buyer's org (None for the seller's
    /// side and the platform, which see everything).
    pub fn seen_by(self, buyer: Option<Uuid>) -> Bid {
        let open = buyer.is_none_or(|org| org == self.buyer_org_id);
        Bid {
            id: self.id,
            seq: self.seq,
            listing_id: self.listing_id,
            unit_price: self.unit_price,
            placed_at: self.placed_at,
            buyer_org_id: open.then_some(self.buyer_org_id),
            deposit: open.then_some(self.deposit),
            mine: buyer.map(|org| org == self.buyer_org_id),
        }
    }
}

/// A bid placed, and the auction as it stands after it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PlacedBid {
    pub bid: Bid,
    /// Whether this bid moved the end.
    pub extended: bool,
    pub listing: Listing,
}

/// `GET /v1/listings/{id}/bids`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BidQuery {
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// `POST /v1/funds` and `POST /v1/funds/withdrawals`: money into a buyer's market funds (a
/// transfer the platform received) or back out of what is free.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FundsMove {
    #[schema(pattern = r"^[A-Z]{3}$")]
    pub currency: String,
    pub amount: crate::domain::inputs::Amount,
    /// The buyer, when the platform records it; a buyer moves its own.
    #[serde(default)]
    pub org_id: Option<Uuid>,
}

/// A buyer's market money in one currency.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Funds {
    pub org_id: Uuid,
    pub currency: String,
    /// Free to bid with (or withdraw).
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub available: Decimal,
    /// Held as deposits on open auctions.
    #[serde(with = "crate::domain::decimal::money")]
    #[schema(value_type = String)]
    pub held: Decimal,
}
