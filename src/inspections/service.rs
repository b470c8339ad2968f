//! Inspection use cases: setting a commodity's quality rules, inspecting a lot (the grade
//! follows from the results; a changed grade is a movement, every loan secured on the lot is
//! revalued in the same transaction and its owner and lenders are told), photos, the lots
//! due, inspector assignments and the daily overdue flag.

use super::model::*;
use super::store::{self, NewInspectionRow, NewPhoto, NewRules};
use crate::auth::{OrgKind, Principal};
use crate::calendar::business_date;
use crate::db::locks::LockOrder;
use crate::domain::photo::{self, Refused};
use crate::domain::quality;
use crate::domain::states::LotStatus;
use crate::error::{ApiError, ApiResult};
use crate::http::{Page, PageQuery};
use crate::integrity::{self, Change, to_json};
use crate::lending::revaluation::{self, Scope};
use crate::lending::store as lending;
use crate::lots::model::{LotRow, lot_not_found};
use crate::lots::store::{self as lots, Viewer};
use crate::reference::model::{CommodityRow, WarehouseRow};
use crate::reference::store as reference;
use chrono::NaiveDate;
use diesel_async::AsyncPgConnection;
use rust_decimal::Decimal;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use uuid::Uuid;

fn fault(f: quality::Fault) -> ApiError {
    ApiError::invalid(&f.field, f.message)
}

fn commodity_not_found() -> ApiError {
    ApiError::not_found("commodity_not_found", "no such commodity")
}

fn inspection_not_found() -> ApiError {
    ApiError::not_found("inspection_not_found", "no such inspection")
}

/// When an inspection on business day `on` makes the next one due, under the commodity's
/// rules.
fn next_due(on: NaiveDate, commodity: &CommodityRow) -> Option<NaiveDate> {
    if !commodity.inspection_required {
        return None;
    }
    let days = u64::try_from(commodity.reinspect_days?).ok()?;
    on.checked_add_days(chrono::Days::new(days))
}

// ---------------------------------------------------------------------------------------------
// Quality rules

/// A new version of the commodity's rules, in force at once; every lot of the commodity in
/// custody or in transit gets its due day under them.
pub async fn set_quality(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    code: &str,
    new: QualityIn,
) -> ApiResult<Quality> {
    let commodity = store::lock_commodity(conn, code)
        .await?
        .ok_or_else(commodity_not_found)?;
    let rules = new.rules();
    quality::check(&rules, &commodity.grade_factors()).map_err(fault)?;
    if new.reinspect_days.is_some() && !new.inspection_required {
        return Err(ApiError::invalid(
            "reinspect_days",
            "a re-inspection interval needs inspection_required",
        ));
    }
    if new.reinspect_days.is_some_and(|d| !(1..=3650).contains(&d)) {
        return Err(ApiError::invalid(
            "reinspect_days",
            "re-inspect every 1 to 3650 days",
        ));
    }
    let before = store::quality(conn, code, None).await?;
    let stored = store::insert_quality(
        conn,
        NewRules {
            code,
            parameters: to_json(&rules.parameters)?,
            grades: to_json(&rules.grades)?,
            inspection_required: new.inspection_required,
            reinspect_days: new.reinspect_days,
            created_by: principal.user_id,
        },
    )
    .await?;
    let today = business_date(conn).await?;
    store::recompute_due(
        conn,
        code,
        (new.inspection_required, new.reinspect_days),
        today,
    )
    .await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "commodity.quality_set",
            object_kind: "commodity",
            object_id: code.to_owned(),
            org_ids: vec![principal.org_id],
            before: before.as_ref().map(to_json).transpose()?,
            after: Some(to_json(&stored)?),
        },
    )
    .await?;
    Ok(stored)
}

/// A version of the commodity's rules (the one in force by default); 404 when there is none.
pub async fn quality_of(
    conn: &mut AsyncPgConnection,
    code: &str,
    version: Option<i32>,
) -> ApiResult<Quality> {
    if reference::find_commodity(conn, code).await?.is_none() {
        return Err(commodity_not_found());
    }
    store::quality(conn, code, version).await?.ok_or_else(|| {
        ApiError::not_found(
            "quality_not_found",
            "the commodity has no quality rules of that version",
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Inspecting

/// An inspection checked at the edge: notes and the override trimmed and bounded.
pub struct Checked {
    pub sample_size: i32,
    pub results: BTreeMap<String, Decimal>,
    pub notes: Option<String>,
    pub grade_override: Option<(String, String)>,
}

pub fn check_inspection(new: &NewInspection) -> ApiResult<Checked> {
    if !(1..=100_000).contains(&new.sample_size) {
        return Err(ApiError::invalid(
            "sample_size",
            "a sample is 1 to 100000 units",
        ));
    }
    if new.results.len() > quality::MAX_PARAMETERS {
        return Err(ApiError::invalid(
            "results",
            format!("at most {} results", quality::MAX_PARAMETERS),
        ));
    }
    let notes = match new.notes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(notes) => Some(crate::http::validate::text("notes", notes, 2000)?),
    };
    let grade_override = match &new.grade_override {
        None => None,
        Some(o) => Some((
            crate::http::validate::text("grade_override.grade", &o.grade, 16)?,
            crate::http::validate::text("grade_override.reason", &o.reason, 500)?,
        )),
    };
    Ok(Checked {
        sample_size: new.sample_size,
        results: measured(&new.results),
        notes,
        grade_override,
    })
}

/// The warehouse, when the caller inspects in it: its operator's staff, or an inspector org
/// the platform assigned to it.
async fn inspecting_in(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Uuid,
) -> ApiResult<Option<WarehouseRow>> {
    let Some(found) = reference::find_warehouse(conn, warehouse).await? else {
        return Ok(None);
    };
    let inspects = match principal.kind {
        OrgKind::WarehouseOperator => found.operator_org_id == principal.org_id,
        OrgKind::Inspector => store::is_assigned(conn, warehouse, principal.org_id).await?,
        _ => false,
    };
    Ok(inspects.then_some(found))
}

/// The lot's pledges to loans that are not over, as `(loan, lender)`.
async fn pledged_to(conn: &mut AsyncPgConnection, lot: Uuid) -> ApiResult<Vec<(Uuid, Uuid)>> {
    let mut loans: Vec<(Uuid, Uuid)> = lending::pledges_on(conn, lot)
        .await?
        .into_iter()
        .map(|(loan, lender, _, _)| (loan, lender))
        .collect();
    loans.sort();
    loans.dedup();
    Ok(loans)
}

/// Inspects a lot in one of the caller's warehouses. The grade follows from the results by
/// the commodity's rules in force (or the override, with its reason). When the lot's grade
/// changes, the change is a `regrade` movement, every loan secured on the lot is revalued (and
/// the margin-call rules applied) in this transaction, and the owner and those lenders are
/// told. Locks the loans, then the lot (the one lock order).
pub async fn inspect(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot_id: Uuid,
    new: Checked,
) -> ApiResult<Inspected> {
    let viewer = Viewer::of(principal);
    let seen = lots::find_visible(conn, viewer, lot_id)
        .await?
        .ok_or_else(lot_not_found)?;
    let commodity = reference::find_commodity(conn, &seen.commodity_code)
        .await?
        .ok_or_else(|| ApiError::internal("lot without commodity"))?;
    let rules_row = store::quality(conn, &commodity.code, None)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "no_quality_rules",
                "the commodity has no quality rules yet; the platform sets them first",
            )
            .with("commodity_code", &commodity.code)
        })?;
    let rules = rules_row.rules().map_err(ApiError::internal)?;
    let grades = commodity.grade_factors();
    let graded = quality::grade_of(&rules, &grades, &new.results).map_err(fault)?;
    if let Some((grade, _)) = &new.grade_override
        && !grades.contains_key(grade)
    {
        return Err(ApiError::invalid(
            "grade_override.grade",
            format!("the commodity has no grade `{grade}`"),
        ));
    }
    // Loans first, then the lot; then make sure no loan took the lot's goods in between.
    let mut order = LockOrder::new();
    let loans = pledged_to(conn, lot_id).await?;
    let loan_ids: Vec<Uuid> = loans.iter().map(|(loan, _)| *loan).collect();
    lending::lock_loans(conn, &mut order, &loan_ids).await?;
    let lot = lots::lock(conn, &mut order, lot_id).await?;
    let loans = pledged_to(conn, lot_id).await?;
    if loans.iter().any(|(loan, _)| !loan_ids.contains(loan)) {
        return Err(ApiError::race());
    }
    let Some(warehouse) = lot
        .warehouse_id
        .filter(|_| lot.status == LotStatus::InCustody)
    else {
        return Err(ApiError::conflict(
            "lot_not_in_custody",
            "only goods in a warehouse can be inspected",
        )
        .with("status", lot.status));
    };
    let operator = inspecting_in(conn, principal, warehouse)
        .await?
        .ok_or_else(lot_not_found)?
        .operator_org_id;
    let grade = new
        .grade_override
        .as_ref()
        .map_or(graded.clone(), |(grade, _)| grade.clone());
    let results: BTreeMap<&String, String> = new
        .results
        .iter()
        .map(|(name, value)| (name, value.normalize().to_string()))
        .collect();
    let inspection = store::insert_inspection(
        conn,
        NewInspectionRow {
            lot_id,
            commodity_code: &commodity.code,
            quality_version: rules_row.version,
            warehouse_id: warehouse,
            inspector_org_id: principal.org_id,
            inspector_user_id: principal.user_id,
            sample_size: new.sample_size,
            results: to_json(&results)?,
            graded: &graded,
            grade: &grade,
            override_reason: new.grade_override.as_ref().map(|(_, r)| r.as_str()),
            grade_before: &lot.grade,
            notes: new.notes.as_deref(),
        },
    )
    .await?;
    let today = business_date(conn).await?;
    let row = store::set_inspected(conn, lot_id, &inspection, next_due(today, &commodity)).await?;
    let regraded = grade != lot.grade;
    let mut revalued = Vec::new();
    if regraded {
        regrade(conn, principal, &lot, &inspection).await?;
        for (loan, _) in &loans {
            let outcome =
                revaluation::revalue(conn, today, Scope::Loan(*loan), "revaluation").await?;
            revalued.push(LoanRevalued {
                loan_id: *loan,
                margin_calls_opened: outcome.margin_calls_opened,
                loans_defaulted: outcome.loans_defaulted,
            });
        }
    }
    let outcome = Inspected {
        inspection: Inspection::from_row(inspection, Vec::new()),
        lot: crate::lots::service::present(conn, viewer, row).await?,
        regraded,
        loans_revalued: if viewer.sees_money() {
            revalued
        } else {
            Vec::new()
        },
    };
    tell(conn, principal, (&lot, operator), &outcome, &loans).await?;
    Ok(outcome)
}

/// The regrade movement in the lot's ledger.
async fn regrade(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot: &LotRow,
    inspection: &InspectionRow,
) -> ApiResult<()> {
    let details = json!({
        "from_grade": lot.grade,
        "to_grade": inspection.grade,
        "declared_grade": lot.declared_grade,
        "inspection_id": inspection.id,
    });
    let reason = inspection
        .override_reason
        .as_deref()
        .unwrap_or("graded by inspection");
    lots::record_regrade(conn, lot, principal.user_id, reason, details).await?;
    Ok(())
}

/// The events: `lot.inspected` to the owner, the warehouse's operator and the inspecting org;
/// and when the grade changed, `lot.regraded` to the owner and every lender with a pledge on it.
async fn tell(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    (lot, operator): (&LotRow, Uuid),
    outcome: &Inspected,
    loans: &[(Uuid, Uuid)],
) -> ApiResult<()> {
    let inspection = &outcome.inspection;
    let mut told = vec![lot.owner_org_id, principal.org_id, operator];
    told.sort();
    told.dedup();
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "lot.inspected",
            object_kind: "lot",
            object_id: lot.id.to_string(),
            org_ids: told,
            before: None,
            after: Some(to_json(inspection)?),
        },
    )
    .await?;
    if !outcome.regraded {
        return Ok(());
    }
    let mut told = vec![lot.owner_org_id];
    told.extend(loans.iter().map(|(_, lender)| *lender));
    told.sort();
    told.dedup();
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "lot.regraded",
            object_kind: "lot",
            object_id: lot.id.to_string(),
            org_ids: told,
            before: Some(json!({"grade": inspection.grade_before})),
            after: Some(json!({
                "lot_id": lot.id,
                "code": lot.code,
                "commodity_code": lot.commodity_code,
                "grade": inspection.grade,
                "declared_grade": lot.declared_grade,
                "inspection_id": inspection.id,
                "override_reason": inspection.override_reason,
            })),
        },
    )
    .await?;
    Ok(())
}

/// The lot the caller may see (404 otherwise).
async fn visible_lot(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot_id: Uuid,
) -> ApiResult<LotRow> {
    lots::find_visible(conn, Viewer::of(principal), lot_id)
        .await?
        .ok_or_else(lot_not_found)
}

/// A page of the lot's inspections, oldest first, each with its photos: two queries a page.
pub async fn inspections(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    lot_id: Uuid,
    page: PageQuery,
) -> ApiResult<Page<Inspection>> {
    let (limit, after) = (page.limit()?, page.after()?);
    visible_lot(conn, principal, lot_id).await?;
    let rows = store::inspections_of(conn, lot_id, after, limit + 1).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut photos: BTreeMap<Uuid, Vec<PhotoRef>> = BTreeMap::new();
    for p in store::photos_of(conn, &ids).await? {
        photos.entry(p.inspection_id).or_default().push(p);
    }
    let page = Page::from_rows(rows, limit, |r| r.seq);
    Ok(Page {
        items: page
            .items
            .into_iter()
            .map(|row| {
                let own = photos.remove(&row.id).unwrap_or_default();
                Inspection::from_row(row, own)
            })
            .collect(),
        next_cursor: page.next_cursor,
    })
}

// ---------------------------------------------------------------------------------------------
// Photos

/// A photo checked at the edge: an image by its bytes (the declared type must agree), not
/// larger than [`MAX_PHOTO_BYTES`], cleaned of its metadata.
pub fn check_photo(content_type: Option<&str>, bytes: &[u8]) -> ApiResult<photo::Cleaned> {
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(ApiError::invalid(
            "photo",
            format!("a photo is at most {MAX_PHOTO_BYTES} bytes"),
        )
        .with("limit_bytes", MAX_PHOTO_BYTES));
    }
    let cleaned = photo::clean(bytes).map_err(|refused| match refused {
        Refused::NotAnImage => ApiError::invalid("photo", "the body is not a JPEG or PNG image"),
        Refused::Malformed(why) => {
            ApiError::invalid("photo", format!("the image is broken: {why}"))
        }
    })?;
    let declared = content_type.map(|t| {
        t.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if declared.as_deref() != Some(cleaned.kind.content_type()) {
        return Err(ApiError::invalid(
            "Content-Type",
            format!(
                "the image is {}; send it with Content-Type: {}",
                cleaned.kind.content_type(),
                cleaned.kind.content_type()
            ),
        ));
    }
    Ok(cleaned)
}

/// Adds a photo to an inspection the caller's org made, up to [`MAX_PHOTOS`].
pub async fn add_photo(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    inspection_id: Uuid,
    cleaned: photo::Cleaned,
) -> ApiResult<PhotoRef> {
    let inspection = store::lock(conn, inspection_id)
        .await?
        .filter(|i| i.inspector_org_id == principal.org_id)
        .ok_or_else(inspection_not_found)?;
    if store::count_photos(conn, inspection.id).await? >= MAX_PHOTOS {
        return Err(ApiError::invalid(
            "photo",
            format!("an inspection keeps at most {MAX_PHOTOS} photos"),
        ));
    }
    let sha256 = hex(&Sha256::digest(&cleaned.bytes));
    let stored = store::insert_photo(
        conn,
        NewPhoto {
            inspection_id,
            content_type: cleaned.kind.content_type(),
            width: i32::try_from(cleaned.width).unwrap_or(i32::MAX),
            height: i32::try_from(cleaned.height).unwrap_or(i32::MAX),
            sha256: &sha256,
            bytes: &cleaned.bytes,
            uploaded_by: principal.user_id,
        },
    )
    .await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "inspection.photo_added",
            object_kind: "inspection",
            object_id: inspection_id.to_string(),
            org_ids: vec![principal.org_id],
            before: None,
            after: Some(to_json(&stored)?),
        },
    )
    .await?;
    Ok(stored)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A photo's bytes, for those who may see the inspected lot (and the inspecting org).
pub async fn photo_of(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    inspection_id: Uuid,
    photo_id: Uuid,
) -> ApiResult<store::PhotoBytes> {
    let inspection = store::find(conn, inspection_id)
        .await?
        .ok_or_else(inspection_not_found)?;
    let sees = inspection.inspector_org_id == principal.org_id
        || lots::find_visible(conn, Viewer::of(principal), inspection.lot_id)
            .await?
            .is_some();
    if !sees {
        return Err(inspection_not_found());
    }
    store::photo_bytes(conn, inspection_id, photo_id)
        .await?
        .ok_or_else(|| ApiError::not_found("photo_not_found", "no such photo"))
}

// ---------------------------------------------------------------------------------------------
// Lots due, assignments, the daily flag

/// The warehouses whose due lots the caller sees: the platform every one, an operator its
/// own, an inspector those it is assigned to; narrowed to `warehouse_id` when given (404 when
/// it is not among them).
async fn due_scope(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Option<Uuid>,
) -> ApiResult<Option<Vec<Uuid>>> {
    let own = match principal.kind {
        OrgKind::Platform => None,
        OrgKind::WarehouseOperator => Some(reference::operated_by(conn, principal.org_id).await?),
        OrgKind::Inspector => Some(store::assigned_to(conn, principal.org_id).await?),
        _ => Some(Vec::new()),
    };
    match (own, warehouse) {
        (own, None) => Ok(own),
        (None, Some(w)) => Ok(Some(vec![w])),
        (Some(own), Some(w)) if own.contains(&w) => Ok(Some(vec![w])),
        (Some(_), Some(_)) => Err(ApiError::not_found(
            "warehouse_not_found",
            "no such warehouse among yours",
        )
        .with("field", "warehouse_id")),
    }
}

/// Lots to inspect on the business date in the caller's warehouses, oldest lot first.
pub async fn due(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    query: DueQuery,
) -> ApiResult<Page<DueLot>> {
    let (limit, after) = PageQuery::bounds(query.limit, query.cursor)?;
    let scope = due_scope(conn, principal, query.warehouse_id).await?;
    let today = business_date(conn).await?;
    let rows = store::due(conn, scope.as_deref(), today, after, limit + 1).await?;
    Ok(Page::from_rows(rows, limit, |r| r.seq))
}

/// The platform assigns an inspector org to a warehouse.
pub async fn assign(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Uuid,
    org: Uuid,
) -> ApiResult<Assignment> {
    reference::find_warehouse(conn, warehouse)
        .await?
        .ok_or_else(|| ApiError::not_found("warehouse_not_found", "no such warehouse"))?;
    let kind = crate::orgs::store::find_org(conn, org)
        .await?
        .map(|o| o.kind)
        .ok_or_else(|| ApiError::unknown_reference("org_id", "no such organisation"))?;
    if kind != OrgKind::Inspector.as_str() {
        return Err(ApiError::invalid(
            "org_id",
            "only an org of kind `inspector` can be assigned to inspect",
        ));
    }
    let assignment = store::assign(conn, warehouse, org, principal.user_id).await?;
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "warehouse.inspector_assigned",
            object_kind: "warehouse",
            object_id: warehouse.to_string(),
            org_ids: vec![principal.org_id, org],
            before: None,
            after: Some(to_json(&assignment)?),
        },
    )
    .await?;
    Ok(assignment)
}

pub async fn unassign(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Uuid,
    org: Uuid,
) -> ApiResult<()> {
    if !store::unassign(conn, warehouse, org).await? {
        return Err(ApiError::not_found(
            "assignment_not_found",
            "that org is not assigned to this warehouse",
        ));
    }
    integrity::record(
        conn,
        Some(principal),
        Change {
            action: "warehouse.inspector_unassigned",
            object_kind: "warehouse",
            object_id: warehouse.to_string(),
            org_ids: vec![principal.org_id, org],
            before: Some(json!({"warehouse_id": warehouse, "inspector_org_id": org})),
            after: None,
        },
    )
    .await?;
    Ok(())
}

/// The inspectors of a warehouse, for its operator, those inspectors and the platform.
pub async fn assignments(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    warehouse: Uuid,
) -> ApiResult<Vec<Assignment>> {
    let found = reference::find_warehouse(conn, warehouse).await?;
    let rows = match found {
        Some(_) => store::assignments(conn, warehouse).await?,
        None => Vec::new(),
    };
    let sees = found.is_some()
        && match principal.kind {
            OrgKind::Platform => true,
            OrgKind::WarehouseOperator => found
                .as_ref()
                .is_some_and(|w| w.operator_org_id == principal.org_id),
            OrgKind::Inspector => rows.iter().any(|a| a.inspector_org_id == principal.org_id),
            _ => false,
        };
    if !sees {
        return Err(ApiError::not_found(
            "warehouse_not_found",
            "no such warehouse",
        ));
    }
    Ok(rows)
}
