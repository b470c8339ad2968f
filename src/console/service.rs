//! What the console's pages show and do, gathered from the areas that own it: each function
//! calls those areas' services, as the API's handlers do, under the same access rules (the
//! caller's principal scopes everything). No SQL here.

use crate::auth::Principal;
use crate::coldchain::model::{Acknowledgement, BreachQuery};
use crate::coldchain::service as coldchain;
use crate::coldchain::store::Breach;
use crate::domain::custody;
use crate::domain::states::{LotStatus, ReleaseOrderStatus, ScanAction};
use crate::error::{ApiError, ApiResult};
use crate::http::PageQuery;
use crate::http::idempotency::{KeyRequired, NO_BODY};
use crate::ledger::model::JournalEntry;
use crate::lending::exposure::{self, Exposure, ExposureQuery, Shock, StressRequest};
use crate::lending::model::{
    Facility, Loan, LoanQuery, LtvPoint, MarginCall, NewLoan, PledgeRequest,
};
use crate::lending::service as lending;
use crate::lots::model::{Lot, NewLot, ReleaseOrderEntry, ReleaseOrderQuery};
use crate::lots::service as lots;
use crate::lots::valuation::Holding;
use crate::market::auction;
use crate::market::model::{
    Bid, Funds, FundsMove, Listing, ListingQuery, NewBid, NewJoin, NewListing, NewOffer, Offer,
    OfferQuery, Rejection,
};
use crate::market::service as market;
use crate::orgs::model::{DirectoryEntry, DirectoryQuery, NewOrg, NewUser, Org, User, UserChange};
use crate::orgs::service as orgs;
use crate::reference::model::{Commodity, Voyage, VoyageQuery, Warehouse};
use crate::reference::prices::Price;
use crate::reference::service as reference;
use diesel_async::{AsyncConnection, AsyncPgConnection};
use uuid::Uuid;

/// What the scan station offers: where the worker stands and where goods may go.
pub struct Station {
    /// Every warehouse: the caller's own receive and unload goods, any is a transfer's
    /// destination.
    pub warehouses: Vec<Warehouse>,
    /// Voyages the caller carries that are not yet arrived (to load onto).
    pub voyages: Vec<Voyage>,
}

pub async fn station(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Station> {
    let warehouses = reference::warehouses(conn).await?;
    let voyages = reference::voyages(
        conn,
        principal,
        VoyageQuery {
            status: None,
            limit: Some(100),
            cursor: None,
        },
    )
    .await?
    .items
    .into_iter()
    .filter(|v| v.arrived_at.is_none())
    .collect();
    Ok(Station {
        warehouses,
        voyages,
    })
}

/// A scanned lot as the station shows it: the lot, what may be done with it, its open
/// release orders.
pub struct ScannedLot {
    pub lot: Lot,
    pub actions: Vec<ScanAction>,
    pub orders: Vec<ReleaseOrderEntry>,
}

/// The lot a scanned text (a lot code or a GS1-128 string) names, for the caller.
pub async fn scanned_lot(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    text: &str,
) -> ApiResult<ScannedLot> {
    let scanned = crate::scans::service::read_code(text)?;
    let lot = lots::by_code(conn, principal, scanned.lot_code()).await?;
    let actions = ScanAction::ALL
        .iter()
        .copied()
        .filter(|action| custody::scan(lot.status, *action, false).is_ok())
        .collect();
    let orders = if lot.status == LotStatus::InCustody {
        lots::release_orders(
            conn,
            principal,
            ReleaseOrderQuery {
                lot_id: Some(lot.id),
                warehouse_id: None,
                status: Some(ReleaseOrderStatus::Open),
                limit: Some(20),
                cursor: None,
            },
        )
        .await?
        .items
    } else {
        Vec::new()
    };
    Ok(ScannedLot {
        lot,
        actions,
        orders,
    })
}

/// The caller's book: the kept exposure figures.
pub async fn book(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Exposure> {
    exposure::book(
        conn,
        principal,
        ExposureQuery {
            currency: None,
            lender_org_id: None,
        },
    )
    .await
}

/// The book as CSV, one loan per line.
pub async fn book_csv(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<exposure::Csv> {
    exposure::csv(
        conn,
        principal,
        ExposureQuery {
            currency: None,
            lender_org_id: None,
        },
    )
    .await
}

/// The codes of every commodity (the stress form asks a change for each).
pub async fn commodity_codes(conn: &mut AsyncPgConnection) -> ApiResult<Vec<String>> {
    Ok(reference::commodities(conn)
        .await?
        .into_iter()
        .map(|c| c.code)
        .collect())
}

/// The book after price changes (checked as the API checks them).
pub async fn stress(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    shocks: Vec<Shock>,
) -> ApiResult<Exposure> {
    exposure::check_shocks(&shocks)?;
    exposure::stress(
        conn,
        principal,
        ExposureQuery {
            currency: None,
            lender_org_id: None,
        },
        StressRequest { shocks },
    )
    .await
}

/// The loans in one status the caller may see (first 200).
pub async fn loans_in(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    status: Option<&str>,
) -> ApiResult<Vec<Loan>> {
    Ok(lending::loans(
        conn,
        principal,
        LoanQuery {
            status: status.map(str::to_owned),
            facility_id: None,
            limit: Some(200),
            cursor: None,
        },
    )
    .await?
    .items)
}

/// The approvals inbox: requested loans, first approvals awaiting a second approver apart.
pub struct Inbox {
    /// Loans to approve or reject.
    pub to_decide: Vec<Loan>,
    /// Approved once; a second lender user must confirm (not the one who approved).
    pub awaiting_second: Vec<Loan>,
    /// Approved, to pay out.
    pub to_disburse: Vec<Loan>,
}

pub async fn inbox(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Inbox> {
    let requested = loans_in(conn, principal, Some("requested")).await?;
    let (awaiting_second, to_decide) = requested
        .into_iter()
        .partition(|loan| loan.approvals.awaiting_second_approval);
    let to_disburse = loans_in(conn, principal, Some("approved")).await?;
    Ok(Inbox {
        to_decide,
        awaiting_second,
        to_disburse,
    })
}

/// A loan with its journal entries (the caller's side of them).
/// A loan's page: the loan, its facility's limits, its LTV as each day closed, its margin
/// calls and its journal entries.
pub struct LoanPage {
    pub loan: Loan,
    pub facility: Facility,
    pub history: Vec<LtvPoint>,
    pub margin_calls: Vec<MarginCall>,
    pub entries: Vec<JournalEntry>,
}

pub async fn loan(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<LoanPage> {
    let loan = lending::loan(conn, principal, id).await?;
    let facility = lending::facility(conn, principal, loan.facility_id).await?;
    let history = lending::ltv_history(conn, principal, id).await?;
    let margin_calls = lending::margin_calls_of(conn, principal, id).await?;
    let entries = crate::ledger::entries_of_loan(conn, principal, id, 200).await?;
    Ok(LoanPage {
        loan,
        facility,
        history,
        margin_calls,
        entries,
    })
}

/// The caller's credit facilities (a lender's, or a supplier's), with the directory to name
/// the orgs on the other side.
pub async fn facilities(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<(Vec<Facility>, Vec<DirectoryEntry>)> {
    let facilities = lending::facilities(
        conn,
        principal,
        &PageQuery {
            limit: Some(200),
            cursor: None,
        },
    )
    .await?
    .items;
    let orgs = every_org(conn).await?;
    Ok((facilities, orgs))
}

/// A lender's decision on a requested loan.
pub enum Decision {
    Approve,
    Reject(String),
}

pub async fn decide(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    decision: Decision,
) -> ApiResult<Loan> {
    conn.transaction::<_, ApiError, _>(async |conn| match decision {
        Decision::Approve => lending::approve(conn, principal, id).await,
        Decision::Reject(reason) => {
            let reason = crate::http::validate::text("reason", &reason, 1000)?;
            lending::end_before_disbursement(conn, principal, id, Some(reason)).await
        }
    })
    .await
}

/// Reads a form's text as the API reads the same field (a quantity, an amount): a refusal
/// names the field.
fn input<T: serde::de::DeserializeOwned>(field: &str, text: &str) -> ApiResult<T> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|e| ApiError::invalid(field, format!("{field}: {e}")))
}

/// The supplier's portal: its facilities, its lots valued, and what announcing needs.
pub struct Portal {
    pub facilities: Vec<Facility>,
    pub holdings: Vec<Holding>,
    pub commodities: Vec<Commodity>,
    pub warehouses: Vec<Warehouse>,
}

pub async fn portal(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Portal> {
    let facilities = lending::facilities(
        conn,
        principal,
        &PageQuery {
            limit: Some(100),
            cursor: None,
        },
    )
    .await?
    .items;
    let holdings = crate::lots::valuation::portfolio(conn, principal, 200).await?;
    let commodities = reference::commodities(conn).await?;
    let warehouses = reference::warehouses(conn).await?;
    Ok(Portal {
        facilities,
        holdings,
        commodities,
        warehouses,
    })
}

/// A lot announced from the portal's form.
pub struct Announcement {
    pub commodity_code: String,
    pub grade: String,
    pub quantity: String,
    pub packed_on: String,
    pub warehouse_id: Option<Uuid>,
}

pub async fn announce(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    form: Announcement,
) -> ApiResult<Lot> {
    let packed_on = chrono::NaiveDate::parse_from_str(form.packed_on.trim(), "%Y-%m-%d")
        .map_err(|_| ApiError::invalid("packed_on", "a date such as 2026-11-30"))?;
    let new = NewLot {
        commodity_code: form.commodity_code,
        grade: form.grade.trim().to_owned(),
        quantity: input("quantity", &form.quantity)?,
        packed_on,
        warehouse_id: form.warehouse_id,
        voyage_id: None,
        insurer: None,
    };
    conn.transaction::<_, ApiError, _>(async |conn| lots::announce(conn, principal, new).await)
        .await
}

/// A loan asked for from the portal: the facility, the principal, and a quantity of each
/// chosen lot (`lot id`, text as typed).
pub async fn borrow(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    facility_id: Uuid,
    amount: &str,
    pledges: Vec<(Uuid, String)>,
) -> ApiResult<Loan> {
    if pledges.is_empty() {
        return Err(ApiError::invalid(
            "collateral",
            "give a quantity for at least one lot",
        ));
    }
    let collateral = pledges
        .into_iter()
        .map(|(lot_id, quantity)| {
            Ok(PledgeRequest {
                lot_id,
                quantity: input(&format!("pledge.{lot_id}"), &quantity)?,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let new = NewLoan {
        facility_id,
        principal: input("principal", amount)?,
        collateral,
    };
    conn.transaction::<_, ApiError, _>(async |conn| lending::request(conn, principal, new).await)
        .await
}

/// The warehouse's breaches (the first 200, open first on the page) and its stores' names.
pub async fn breaches(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<(Vec<Breach>, Vec<Warehouse>)> {
    let breaches = coldchain::breaches(
        conn,
        principal,
        BreachQuery {
            warehouse_id: None,
            open: None,
            limit: Some(200),
            cursor: None,
        },
    )
    .await?
    .items;
    Ok((breaches, reference::warehouses(conn).await?))
}

/// Acknowledges a breach as the API does: checked comment and downgrade, one transaction.
pub async fn acknowledge(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    comment: String,
    grade_downgrade: Option<String>,
) -> ApiResult<()> {
    let (comment, downgrade_to) = coldchain::check_acknowledgement(&Acknowledgement {
        comment,
        grade_downgrade,
    })?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        coldchain::acknowledge(conn, principal, id, &comment, downgrade_to.as_deref()).await
    })
    .await?;
    Ok(())
}

/// What the platform's page shows.
pub struct Admin {
    pub orgs: Vec<DirectoryEntry>,
    pub commodities: Vec<Commodity>,
    pub warehouses: Vec<Warehouse>,
    pub voyages: Vec<Voyage>,
    /// The latest price of each commodity, in any currency.
    pub prices: Vec<Price>,
}

pub async fn admin(conn: &mut AsyncPgConnection, principal: &Principal) -> ApiResult<Admin> {
    let orgs = every_org(conn).await?;
    let commodities = reference::commodities(conn).await?;
    let warehouses = reference::warehouses(conn).await?;
    let voyages = reference::voyages(
        conn,
        principal,
        VoyageQuery {
            status: None,
            limit: Some(200),
            cursor: None,
        },
    )
    .await?
    .items;
    let mut prices = Vec::new();
    for commodity in &commodities {
        if let Some(price) =
            crate::reference::prices::latest(conn, &commodity.code, None, chrono::Utc::now())
                .await?
        {
            prices.push(price);
        }
    }
    Ok(Admin {
        orgs,
        commodities,
        warehouses,
        voyages,
        prices,
    })
}

/// A price feed pasted into the platform's page.
pub async fn import_prices(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    csv: &str,
) -> ApiResult<crate::prices::service::Imported> {
    crate::prices::service::import_feed(conn, principal, csv).await
}

/// One price posted from the platform's page (the loans are revalued at once).
pub async fn post_price(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &crate::prices::service::NewPrice,
) -> ApiResult<Price> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        crate::prices::service::post(conn, principal, new).await
    })
    .await
}

/// A new organisation from the platform's page.
pub async fn create_org(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewOrg,
) -> ApiResult<Org> {
    let name = orgs::org_name(&new.name)?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        orgs::create_org(conn, principal, &name, new.kind).await
    })
    .await
}

/// An organisation's page: the org and its users.
pub struct OrgUsers {
    pub org: Org,
    pub users: Vec<User>,
}

pub async fn org_users(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
) -> ApiResult<OrgUsers> {
    let org = orgs::org(conn, principal, id).await?;
    let users = orgs::users(conn, principal, id).await?;
    Ok(OrgUsers { org, users })
}

/// A new user of `org`, checked and its password hashed as the API does.
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    org: Uuid,
    new: &NewUser,
) -> ApiResult<User> {
    let checked = orgs::check_new_user(conn, principal, org, new).await?;
    let password_hash = orgs::hash_password(&new.password).await?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        orgs::create_user(conn, principal, checked, &password_hash).await
    })
    .await
}

/// Disables a user (its sessions and tokens end at once) or enables it again.
pub async fn set_user_disabled(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    id: Uuid,
    disabled: bool,
) -> ApiResult<User> {
    let change = UserChange {
        permissions: None,
        disabled: Some(disabled),
    };
    conn.transaction::<_, ApiError, _>(async |conn| {
        orgs::change_user(conn, principal, id, &change).await
    })
    .await
}

/// A new commodity, warehouse (with its storage rates) or voyage from the platform's page,
/// checked and registered as the API does.
pub use crate::reference::service::{
    register_commodity as create_commodity, register_voyage as create_voyage,
    register_warehouse as create_warehouse,
};

/// The market page: listings the caller may see (a buyer: open, its tier's time come; a
/// seller: its own), the offers it made or received, and for a supplier the lots it may list.
pub struct Market {
    pub listings: crate::http::Page<Listing>,
    pub offers: Vec<Offer>,
    pub lots: Vec<Holding>,
    pub commodities: Vec<Commodity>,
    pub warehouses: Vec<Warehouse>,
    /// To name the buyers on a seller's offers.
    pub orgs: Vec<DirectoryEntry>,
    /// When a new listing reaches each tier's buyers (minutes after it opens).
    pub delays: Vec<(String, i32)>,
    /// The latest bids on the auctions shown, newest first.
    pub bids: Vec<Bid>,
    /// A buyer's market funds per currency.
    pub funds: Vec<Funds>,
}

pub async fn market(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: ListingQuery,
) -> ApiResult<Market> {
    let listings = market::listings(conn, principal, query).await?;
    let offers = market::offers(
        conn,
        principal,
        OfferQuery {
            limit: Some(500),
            ..OfferQuery::default()
        },
    )
    .await?
    .items;
    let lots = if principal.kind == crate::auth::OrgKind::Supplier {
        crate::lots::valuation::portfolio(conn, principal, 200)
            .await?
            .into_iter()
            .filter(|h| {
                matches!(h.lot.status, LotStatus::InCustody | LotStatus::InTransit)
                    && h.lot.quantity_on_hand.value() > h.lot.quantity_reserved.value()
            })
            .collect()
    } else {
        Vec::new()
    };
    let bids = auction::latest_bids(conn, principal, &listings.items, 10).await?;
    let funds = if principal.kind == crate::auth::OrgKind::Buyer {
        auction::funds(conn, principal).await?
    } else {
        Vec::new()
    };
    Ok(Market {
        bids,
        funds,
        listings,
        offers,
        lots,
        commodities: reference::commodities(conn).await?,
        warehouses: reference::warehouses(conn).await?,
        orgs: every_org(conn).await?,
        delays: market::visibility_delays(conn).await?,
    })
}

/// Goods listed from a page (a supplier's lot; a lender's liquidating loan's lot).
pub async fn list_goods(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    new: &NewListing,
) -> ApiResult<Listing> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        market::create_listing(conn, principal, new).await
    })
    .await
}

/// A buyer's offer from the market page, under the form's key (a second click replays the
/// first answer: one offer).
pub async fn make_offer(
    pool: &crate::db::DbPool,
    principal: &Principal,
    listing: Uuid,
    new: NewOffer,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { market::make_offer(conn, &principal, listing, &new).await })
        },
    )
    .await
}

/// A buyer's bid from the market page, under the form's key: one bid, one deposit.
pub async fn place_bid(
    pool: &crate::db::DbPool,
    principal: &Principal,
    listing: Uuid,
    new: NewBid,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::CREATED,
        move |conn| Box::pin(async move { auction::bid(conn, &principal, listing, &new).await }),
    )
    .await
}

/// A buyer joins a group buy from the market page, under the form's key: one payment.
pub async fn join_group(
    pool: &crate::db::DbPool,
    principal: &Principal,
    listing: Uuid,
    new: NewJoin,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::CREATED,
        move |conn| {
            Box::pin(
                async move { crate::market::group::join(conn, &principal, listing, &new).await },
            )
        },
    )
    .await
}

/// A buyer moves money into its market funds from the page, under the form's key.
pub async fn add_funds(
    pool: &crate::db::DbPool,
    principal: &Principal,
    request: FundsMove,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { auction::move_funds(conn, &principal, &request, false).await })
        },
    )
    .await
}

/// The seller accepts an offer from the page, under the form's key: one sale.
pub async fn accept_offer(
    pool: &crate::db::DbPool,
    principal: &Principal,
    offer: Uuid,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::CREATED,
        move |conn| Box::pin(async move { market::accept(conn, &principal, offer).await }),
    )
    .await
}

pub async fn reject_offer(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    offer: Uuid,
) -> ApiResult<Offer> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        market::reject(conn, principal, offer, &Rejection::default()).await
    })
    .await
}

pub async fn withdraw_listing(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    listing: Uuid,
) -> ApiResult<Listing> {
    conn.transaction::<_, ApiError, _>(async |conn| {
        market::withdraw(conn, principal, listing).await
    })
    .await
}

/// Whether a keyed change went through (its first answer, or the replay of it).
pub enum Keyed {
    Done,
    Refused(ApiError),
}

/// Runs a change from a page under the form's key (a second click replays the first answer,
/// so the change happens once) and says whether it went through.
async fn run_keyed<T, F>(
    idem: KeyRequired,
    pool: &crate::db::DbPool,
    user_id: Uuid,
    body_sha256: &[u8; 32],
    status: actix_web::http::StatusCode,
    change: F,
) -> ApiResult<Keyed>
where
    T: serde::Serialize + Send + 'static,
    F: for<'r> FnOnce(
            &'r mut AsyncPgConnection,
        ) -> futures_util::future::BoxFuture<'r, ApiResult<T>>
        + Send
        + 'static,
{
    keyed(idem.run(pool, user_id, body_sha256, status, change).await)
}

/// What a keyed run answered: its stored JSON on success; a refusal as it was.
fn keyed(answer: ApiResult<actix_web::HttpResponse>) -> ApiResult<Keyed> {
    match answer {
        Ok(response) if response.status().is_success() => Ok(Keyed::Done),
        Ok(response) => Err(ApiError::internal(format!(
            "a keyed change answered {}",
            response.status()
        ))),
        Err(error) if error.status.is_client_error() => Ok(Keyed::Refused(error)),
        Err(error) => Err(error),
    }
}

/// A lender pays out an approved loan from the inbox, under the form's key (a second click
/// replays the first answer: the money moves once).
pub async fn disburse(
    pool: &crate::db::DbPool,
    principal: &Principal,
    id: Uuid,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &NO_BODY,
        actix_web::http::StatusCode::OK,
        move |conn| Box::pin(async move { lending::disburse(conn, &principal, id).await }),
    )
    .await
}

/// A repayment from the loan's page, under the form's key.
pub async fn repay(
    pool: &crate::db::DbPool,
    principal: &Principal,
    id: Uuid,
    amount: &str,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let amount: crate::domain::inputs::Amount = match input("amount", amount) {
        Ok(amount) => amount,
        Err(error) => return Ok(Keyed::Refused(error)),
    };
    let amount = amount.value();
    // The amount is part of what the key stands for: the same form sent with another amount
    // is refused, not replayed.
    let fingerprint: [u8; 32] =
        <sha2::Sha256 as sha2::Digest>::digest(amount.normalize().to_string().as_bytes()).into();
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &fingerprint,
        actix_web::http::StatusCode::CREATED,
        move |conn| Box::pin(async move { lending::repay(conn, &principal, id, amount).await }),
    )
    .await
}

/// A buyer pays towards a purchase from its page, under the form's key (the amount is part of
/// what the key stands for, as for a repayment).
pub async fn pay_sale(
    pool: &crate::db::DbPool,
    principal: &Principal,
    id: Uuid,
    amount: &str,
    idem: KeyRequired,
) -> ApiResult<Keyed> {
    let amount: crate::domain::inputs::Amount = match input("amount", amount) {
        Ok(amount) => amount,
        Err(error) => return Ok(Keyed::Refused(error)),
    };
    let amount = amount.value();
    let fingerprint: [u8; 32] =
        <sha2::Sha256 as sha2::Digest>::digest(amount.normalize().to_string().as_bytes()).into();
    let principal = principal.clone();
    run_keyed(
        idem,
        pool,
        principal.user_id,
        &fingerprint,
        actix_web::http::StatusCode::CREATED,
        move |conn| {
            Box::pin(async move { crate::sales::service::pay(conn, &principal, id, amount).await })
        },
    )
    .await
}

/// What moved today at the caller's warehouses, and their names.
pub async fn movements_today(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<(Vec<crate::lots::service::DayMovement>, Vec<Warehouse>)> {
    let moved = lots::movements_today(conn, principal).await?;
    Ok((moved, reference::warehouses(conn).await?))
}

/// The caller's sales (the first 200) as the API shows them to it.
pub async fn sales(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
) -> ApiResult<Vec<crate::sales::model::Sale>> {
    Ok(crate::sales::service::sales(
        conn,
        principal,
        crate::sales::model::SaleQuery {
            status: None,
            limit: Some(200),
            cursor: None,
        },
    )
    .await?
    .items)
}

/// The caller's statement for a period (default: the 30 days to the business date).
pub async fn statement(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
) -> ApiResult<crate::statements::model::Statement> {
    crate::statements::service::statement(
        conn,
        principal,
        crate::statements::model::StatementQuery {
            org_id: None,
            from,
            to,
        },
    )
    .await
}

/// A temperature reading typed in by hand (a sensor that cannot send, a check with a hand-held
/// thermometer), checked and recorded as the API's batches are; its breaches follow.
pub async fn record_reading(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse_id: Uuid,
    sensor_id: String,
    celsius: &str,
    recorded_at: &str,
) -> ApiResult<()> {
    let now = chrono::Utc::now();
    let recorded_at = match recorded_at.trim() {
        "" => now,
        text => chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
            .map(|t| t.and_utc())
            .map_err(|_| ApiError::invalid("recorded_at", "a time such as 2026-12-01T08:30"))?,
    };
    let reading = crate::coldchain::model::ReadingIn {
        warehouse_id,
        sensor_id,
        recorded_at,
        celsius: input("celsius", celsius)?,
    };
    let parsed = coldchain::check_readings(&[reading], now)?;
    conn.transaction::<_, ApiError, _>(async |conn| {
        coldchain::record_readings(conn, principal, parsed).await
    })
    .await?;
    Ok(())
}

/// The directory's first 500 organisations, to name the orgs a page shows.
async fn every_org(conn: &mut AsyncPgConnection) -> ApiResult<Vec<DirectoryEntry>> {
    Ok(orgs::directory(
        conn,
        DirectoryQuery {
            kind: None,
            q: None,
            limit: Some(500),
            cursor: None,
        },
    )
    .await?
    .items)
}
