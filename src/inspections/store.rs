//! Queries for quality rules, inspections, photos, inspector assignments and the lots due.

use super::model::*;
use crate::db::prepared::{Cache, prepared};
use crate::lots::model::LotRow;
use crate::reference::model::CommodityRow;
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, Bool, Bytea, Date, Int4, Int8, Jsonb, Nullable, Text, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Int8)]
    n: i64,
}

const QUALITY: &str = "SELECT q.commodity_code, q.version, q.parameters, q.grades, q.inspection_required, \
            q.reinspect_days, (c.quality_version IS NOT DISTINCT FROM q.version) AS current, \
            q.created_by, q.created_at \
     FROM commodity_quality q JOIN commodities c ON c.code = q.commodity_code";

/// A version of the commodity's rules (`None`: the one in force).
pub async fn quality(
    conn: &mut AsyncPgConnection,
    code: &str,
    version: Option<i32>,
) -> QueryResult<Option<Quality>> {
    diesel::sql_query(format!(
        "{QUALITY} WHERE q.commodity_code = $1 AND q.version = coalesce($2, c.quality_version)"
    ))
    .bind::<Text, _>(code)
    .bind::<Nullable<Int4>, _>(version)
    .get_result(conn)
    .await
    .optional()
}

/// The commodity, locked: versions of its rules are numbered one at a time.
pub async fn lock_commodity(
    conn: &mut AsyncPgConnection,
    code: &str,
) -> QueryResult<Option<CommodityRow>> {
    use crate::db::schema::commodities;
    commodities::table
        .find(code)
        .select(CommodityRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

pub struct NewRules<'a> {
    pub code: &'a str,
    pub parameters: Value,
    pub grades: Value,
    pub inspection_required: bool,
    pub reinspect_days: Option<i32>,
    pub created_by: Uuid,
}

/// Stores the next version of the (locked) commodity's rules and puts it in force.
pub async fn insert_quality(
    conn: &mut AsyncPgConnection,
    rules: NewRules<'_>,
) -> QueryResult<Quality> {
    prepared(
        "WITH q AS ( \
             INSERT INTO commodity_quality (commodity_code, version, parameters, grades, inspection_required, reinspect_days, created_by) \
             SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6 FROM commodity_quality WHERE commodity_code = $1 \
             RETURNING *), \
         c AS ( \
             UPDATE commodities SET quality_version = q.version, inspection_required = q.inspection_required, \
                    reinspect_days = q.reinspect_days \
             FROM q WHERE commodities.code = q.commodity_code RETURNING 1) \
         SELECT q.commodity_code, q.version, q.parameters, q.grades, q.inspection_required, q.reinspect_days, \
                (SELECT count(*) FROM c) = 1 AS current, q.created_by, q.created_at FROM q",
    )
    .bind::<Text, _>(rules.code)
    .bind::<Jsonb, _>(rules.parameters)
    .bind::<Jsonb, _>(rules.grades)
    .bind::<Bool, _>(rules.inspection_required)
    .bind::<Nullable<Int4>, _>(rules.reinspect_days)
    .bind::<SqlUuid, _>(rules.created_by)
    .get_result(conn)
    .await
}

/// Sets when the commodity's lots in custody or in transit are next due, under its rules now:
/// never-inspected lots on `today` where inspection is required, inspected ones
/// `reinspect_days` after their last inspection, none otherwise. Answers how many changed.
pub async fn recompute_due(
    conn: &mut AsyncPgConnection,
    code: &str,
    (required, reinspect_days): (bool, Option<i32>),
    today: NaiveDate,
) -> QueryResult<i64> {
    let changed = prepared(
        "UPDATE lots SET inspection_due_on = d.due \
         FROM (SELECT id, CASE WHEN NOT $2 THEN NULL \
                               WHEN last_inspected_at IS NULL THEN $4 \
                               ELSE (last_inspected_at AT TIME ZONE 'UTC')::date + $3 END AS due \
               FROM lots WHERE commodity_code = $1 AND status IN ('in_custody', 'in_transit')) d \
         WHERE lots.id = d.id AND lots.inspection_due_on IS DISTINCT FROM d.due",
    )
    .bind::<Text, _>(code)
    .bind::<Bool, _>(required)
    .bind::<Nullable<Int4>, _>(reinspect_days)
    .bind::<Date, _>(today)
    .execute(conn)
    .await?;
    Ok(changed as i64)
}

pub struct NewInspectionRow<'a> {
    pub lot_id: Uuid,
    pub commodity_code: &'a str,
    pub quality_version: i32,
    pub warehouse_id: Uuid,
    pub inspector_org_id: Uuid,
    pub inspector_user_id: Uuid,
    pub sample_size: i32,
    pub results: Value,
    pub graded: &'a str,
    pub grade: &'a str,
    pub override_reason: Option<&'a str>,
    pub grade_before: &'a str,
    pub notes: Option<&'a str>,
}

const INSPECTION: &str = "SELECT id, seq, lot_id, commodity_code, quality_version, warehouse_id, inspector_org_id, \
            inspector_user_id, sample_size, results, graded, grade, override_reason, grade_before, notes, inspected_at \
     FROM inspections";

pub async fn insert_inspection(
    conn: &mut AsyncPgConnection,
    row: NewInspectionRow<'_>,
) -> QueryResult<InspectionRow> {
    prepared(
        "INSERT INTO inspections (id, lot_id, commodity_code, quality_version, warehouse_id, inspector_org_id, \
             inspector_user_id, sample_size, results, graded, grade, override_reason, grade_before, notes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         RETURNING id, seq, lot_id, commodity_code, quality_version, warehouse_id, inspector_org_id, \
             inspector_user_id, sample_size, results, graded, grade, override_reason, grade_before, notes, inspected_at",
    )
    .bind::<SqlUuid, _>(Uuid::new_v4())
    .bind::<SqlUuid, _>(row.lot_id)
    .bind::<Text, _>(row.commodity_code)
    .bind::<Int4, _>(row.quality_version)
    .bind::<SqlUuid, _>(row.warehouse_id)
    .bind::<SqlUuid, _>(row.inspector_org_id)
    .bind::<SqlUuid, _>(row.inspector_user_id)
    .bind::<Int4, _>(row.sample_size)
    .bind::<Jsonb, _>(row.results)
    .bind::<Text, _>(row.graded)
    .bind::<Text, _>(row.grade)
    .bind::<Nullable<Text>, _>(row.override_reason)
    .bind::<Text, _>(row.grade_before)
    .bind::<Nullable<Text>, _>(row.notes)
    .get_result(conn)
    .await
}

/// The (locked) lot after an inspection: its grade, its latest inspection, when the next is
/// due; answers the lot as it now is.
pub async fn set_inspected(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    inspection: &InspectionRow,
    due_on: Option<NaiveDate>,
) -> QueryResult<LotRow> {
    use crate::db::schema::lots;
    diesel::update(lots::table.find(lot_id))
        .set((
            lots::grade.eq(&inspection.grade),
            lots::last_inspection_id.eq(inspection.id),
            lots::last_inspected_at.eq(inspection.inspected_at),
            lots::inspection_due_on.eq(due_on),
            lots::updated_at.eq(Utc::now()),
        ))
        .returning(LotRow::as_returning())
        .cached()
        .get_result(conn)
        .await
}

/// A lot's inspections, oldest first, after the cursor.
pub async fn inspections_of(
    conn: &mut AsyncPgConnection,
    lot_id: Uuid,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<InspectionRow>> {
    diesel::sql_query(format!(
        "{INSPECTION} WHERE lot_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind::<SqlUuid, _>(lot_id)
    .bind::<Int8, _>(after.unwrap_or(0))
    .bind::<Int8, _>(limit)
    .load(conn)
    .await
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<InspectionRow>> {
    diesel::sql_query(format!("{INSPECTION} WHERE id = $1"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

/// The inspection, locked: its photos are counted and added one upload at a time.
pub async fn lock(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<Option<InspectionRow>> {
    diesel::sql_query(format!("{INSPECTION} WHERE id = $1 FOR UPDATE"))
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()
}

const PHOTO: &str = "SELECT id, inspection_id, content_type, width, height, size_bytes, sha256, created_at, \
            '/v1/inspections/' || inspection_id || '/photos/' || id AS url \
     FROM inspection_photos";

/// The photos of these inspections, in upload order.
pub async fn photos_of(
    conn: &mut AsyncPgConnection,
    inspections: &[Uuid],
) -> QueryResult<Vec<PhotoRef>> {
    diesel::sql_query(format!(
        "{PHOTO} WHERE inspection_id = ANY($1) ORDER BY inspection_id, created_at, id"
    ))
    .bind::<Array<SqlUuid>, _>(inspections)
    .load(conn)
    .await
}

pub async fn count_photos(conn: &mut AsyncPgConnection, inspection: Uuid) -> QueryResult<i64> {
    let row: Count =
        prepared("SELECT count(*) AS n FROM inspection_photos WHERE inspection_id = $1")
            .bind::<SqlUuid, _>(inspection)
            .get_result(conn)
            .await?;
    Ok(row.n)
}

pub struct NewPhoto<'a> {
    pub inspection_id: Uuid,
    pub content_type: &'a str,
    pub width: i32,
    pub height: i32,
    pub sha256: &'a str,
    pub bytes: &'a [u8],
    pub uploaded_by: Uuid,
}

pub async fn insert_photo(
    conn: &mut AsyncPgConnection,
    photo: NewPhoto<'_>,
) -> QueryResult<PhotoRef> {
    prepared(
        "INSERT INTO inspection_photos (id, inspection_id, content_type, width, height, size_bytes, sha256, bytes, uploaded_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         RETURNING id, inspection_id, content_type, width, height, size_bytes, sha256, created_at, \
                   '/v1/inspections/' || inspection_id || '/photos/' || id AS url",
    )
    .bind::<SqlUuid, _>(Uuid::new_v4())
    .bind::<SqlUuid, _>(photo.inspection_id)
    .bind::<Text, _>(photo.content_type)
    .bind::<Int4, _>(photo.width)
    .bind::<Int4, _>(photo.height)
    .bind::<Int4, _>(i32::try_from(photo.bytes.len()).unwrap_or(i32::MAX))
    .bind::<Text, _>(photo.sha256)
    .bind::<Bytea, _>(photo.bytes)
    .bind::<SqlUuid, _>(photo.uploaded_by)
    .get_result(conn)
    .await
}

#[derive(QueryableByName)]
pub struct PhotoBytes {
    #[diesel(sql_type = Text)]
    pub content_type: String,
    #[diesel(sql_type = Text)]
    pub sha256: String,
    #[diesel(sql_type = Bytea)]
    pub bytes: Vec<u8>,
}

pub async fn photo_bytes(
    conn: &mut AsyncPgConnection,
    inspection: Uuid,
    photo: Uuid,
) -> QueryResult<Option<PhotoBytes>> {
    prepared(
        "SELECT content_type, sha256, bytes FROM inspection_photos WHERE inspection_id = $1 AND id = $2",
    )
    .bind::<SqlUuid, _>(inspection)
    .bind::<SqlUuid, _>(photo)
    .get_result(conn)
    .await
    .optional()
}

/// Lots in custody in these warehouses (`None`: every warehouse) that are due for inspection
/// on `today`: never inspected where inspection is required, or due on or before today.
pub async fn due(
    conn: &mut AsyncPgConnection,
    warehouses: Option<&[Uuid]>,
    today: NaiveDate,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<DueLot>> {
    prepared(
        "SELECT lot.seq, lot.id AS lot_id, lot.code, lot.commodity_code, lot.warehouse_id, lot.grade, lot.declared_grade, \
                lot.last_inspected_at, lot.inspection_due_on, \
                CASE WHEN lot.last_inspected_at IS NULL THEN 'never_inspected' \
                     WHEN lot.inspection_due_on < $2 THEN 'overdue' ELSE 'due' END AS reason \
         FROM lots lot JOIN commodities c ON c.code = lot.commodity_code \
         WHERE lot.status = 'in_custody' AND ($1::uuid[] IS NULL OR lot.warehouse_id = ANY($1)) \
           AND ((c.inspection_required AND lot.last_inspected_at IS NULL) OR lot.inspection_due_on <= $2) \
           AND lot.seq > $3 \
         ORDER BY lot.seq LIMIT $4",
    )
    .bind::<Nullable<Array<SqlUuid>>, _>(warehouses)
    .bind::<Date, _>(today)
    .bind::<Int8, _>(after.unwrap_or(0))
    .bind::<Int8, _>(limit)
    .load(conn)
    .await
}

/// Whether the inspector org is assigned to the warehouse.
pub async fn is_assigned(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    org: Uuid,
) -> QueryResult<bool> {
    let row: Count = prepared(
        "SELECT count(*) AS n FROM warehouse_inspectors WHERE warehouse_id = $1 AND inspector_org_id = $2",
    )
    .bind::<SqlUuid, _>(warehouse)
    .bind::<SqlUuid, _>(org)
    .get_result(conn)
    .await?;
    Ok(row.n > 0)
}

/// The warehouses an inspector org is assigned to.
pub async fn assigned_to(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Vec<Uuid>> {
    use crate::db::schema::warehouse_inspectors as wi;
    wi::table
        .filter(wi::inspector_org_id.eq(org))
        .select(wi::warehouse_id)
        .order(wi::warehouse_id)
        .load(conn)
        .await
}

const ASSIGNMENT: &str = "SELECT wi.warehouse_id, wi.inspector_org_id, o.name AS inspector_name, wi.assigned_by, wi.assigned_at \
     FROM warehouse_inspectors wi JOIN orgs o ON o.id = wi.inspector_org_id";

/// Assigns the inspector (again: the first assignment stands).
pub async fn assign(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    org: Uuid,
    by: Uuid,
) -> QueryResult<Assignment> {
    prepared(
        "INSERT INTO warehouse_inspectors (warehouse_id, inspector_org_id, assigned_by) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind::<SqlUuid, _>(warehouse)
    .bind::<SqlUuid, _>(org)
    .bind::<SqlUuid, _>(by)
    .execute(conn)
    .await?;
    diesel::sql_query(format!(
        "{ASSIGNMENT} WHERE wi.warehouse_id = $1 AND wi.inspector_org_id = $2"
    ))
    .bind::<SqlUuid, _>(warehouse)
    .bind::<SqlUuid, _>(org)
    .get_result(conn)
    .await
}

/// Ends an assignment; answers whether there was one.
pub async fn unassign(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
    org: Uuid,
) -> QueryResult<bool> {
    let gone = prepared(
        "DELETE FROM warehouse_inspectors WHERE warehouse_id = $1 AND inspector_org_id = $2",
    )
    .bind::<SqlUuid, _>(warehouse)
    .bind::<SqlUuid, _>(org)
    .execute(conn)
    .await?;
    Ok(gone > 0)
}

pub async fn assignments(
    conn: &mut AsyncPgConnection,
    warehouse: Uuid,
) -> QueryResult<Vec<Assignment>> {
    diesel::sql_query(format!(
        "{ASSIGNMENT} WHERE wi.warehouse_id = $1 ORDER BY wi.assigned_at, wi.inspector_org_id LIMIT 100"
    ))
    .bind::<SqlUuid, _>(warehouse)
    .load(conn)
    .await
}
