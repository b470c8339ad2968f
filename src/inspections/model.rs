//! Rows and API types for quality rules, inspections, their photos and the lots due.

use crate::domain::inputs::Measurement;
use crate::domain::quality;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::sql_types::{
    Bool, Date, Int4, Int8, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

/// The most photos one inspection keeps, and the largest photo (bytes, as uploaded).
pub const MAX_PHOTOS: i64 = 6;
pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParameterIn {
    /// Lower-case letters, digits and `_`, e.g. `firmness_kgf`.
    #[schema(pattern = r"^[a-z][a-z0-9_]{0,31}$")]
    pub name: String,
    /// e.g. `kgf`, `°Brix`, `%`, `mm`.
    #[schema(min_length = 1, max_length = 16)]
    pub unit: String,
    /// The least value the parameter can take (a result below it is a 422).
    pub min: Measurement,
    pub max: Measurement,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RangeIn {
    pub min: Option<Measurement>,
    pub max: Option<Measurement>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeRuleIn {
    /// One of the commodity's grades.
    pub grade: String,
    /// Parameter name → the range a result must lie in (bounds inclusive) for this grade.
    pub ranges: BTreeMap<String, RangeIn>,
}

/// `PUT /v1/commodities/{code}/quality`: a new version of the commodity's rules.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityIn {
    pub parameters: Vec<ParameterIn>,
    /// Rules per grade; results meeting none make the commodity's lowest grade.
    pub grades: Vec<GradeRuleIn>,
    /// Lots are not eligible collateral until inspected.
    pub inspection_required: bool,
    /// Days after an inspection by which the next is due (only with `inspection_required`).
    #[schema(minimum = 1, maximum = 3650)]
    pub reinspect_days: Option<i32>,
}

impl QualityIn {
    /// The rules in the domain's terms.
    pub fn rules(&self) -> quality::Rules {
        quality::Rules {
            parameters: self
                .parameters
                .iter()
                .map(|p| quality::Parameter {
                    name: p.name.clone(),
                    unit: p.unit.clone(),
                    min: p.min.value(),
                    max: p.max.value(),
                })
                .collect(),
            grades: self
                .grades
                .iter()
                .map(|g| quality::GradeRule {
                    grade: g.grade.clone(),
                    ranges: g
                        .ranges
                        .iter()
                        .map(|(name, r)| {
                            let range = quality::Range {
                                min: r.min.map(Measurement::value),
                                max: r.max.map(Measurement::value),
                            };
                            (name.clone(), range)
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// One version of a commodity's quality rules.
#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct Quality {
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = Int4)]
    pub version: i32,
    /// `[{name, unit, min, max}]`.
    #[diesel(sql_type = Jsonb)]
    #[schema(value_type = Vec<Object>)]
    pub parameters: Value,
    /// `[{grade, ranges: {name: {min, max}}}]`.
    #[diesel(sql_type = Jsonb)]
    #[schema(value_type = Vec<Object>)]
    pub grades: Value,
    #[diesel(sql_type = Bool)]
    pub inspection_required: bool,
    #[diesel(sql_type = Nullable<Int4>)]
    pub reinspect_days: Option<i32>,
    /// Whether this is the version in force.
    #[diesel(sql_type = Bool)]
    pub current: bool,
    #[diesel(sql_type = SqlUuid)]
    pub created_by: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
}

impl Quality {
    /// The stored rules in the domain's terms.
    pub fn rules(&self) -> Result<quality::Rules, serde_json::Error> {
        Ok(quality::Rules {
            parameters: serde_json::from_value(self.parameters.clone())?,
            grades: serde_json::from_value(self.grades.clone())?,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// An earlier version (default: the one in force).
    #[param(minimum = 1)]
    pub version: Option<i32>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GradeOverride {
    pub grade: String,
    /// Why the measured grade does not stand (recorded; 1 to 500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// `POST /v1/lots/{id}/inspections`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInspection {
    /// How many samples were drawn and measured.
    #[schema(minimum = 1, maximum = 100000)]
    pub sample_size: i32,
    /// Parameter name → measured value (the sample's mean), each as a decimal string. Every
    /// parameter of the commodity, and no other.
    pub results: BTreeMap<String, Measurement>,
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
    /// A grade other than the one the results make, with the reason.
    pub grade_override: Option<GradeOverride>,
}

/// A photo of an inspection, as listed with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct PhotoRef {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    #[serde(skip)]
    pub inspection_id: Uuid,
    #[diesel(sql_type = Text)]
    pub content_type: String,
    #[diesel(sql_type = Int4)]
    pub width: i32,
    #[diesel(sql_type = Int4)]
    pub height: i32,
    #[diesel(sql_type = Int4)]
    pub size_bytes: i32,
    /// SHA-256 of the bytes served.
    #[diesel(sql_type = Text)]
    pub sha256: String,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    /// Where to fetch it (the same access rules as the lot).
    #[diesel(sql_type = Text)]
    pub url: String,
}

/// A stored inspection row.
#[derive(Debug, Clone, diesel::QueryableByName)]
pub struct InspectionRow {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Int8)]
    pub seq: i64,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = Int4)]
    pub quality_version: i32,
    #[diesel(sql_type = SqlUuid)]
    pub warehouse_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub inspector_org_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub inspector_user_id: Uuid,
    #[diesel(sql_type = Int4)]
    pub sample_size: i32,
    #[diesel(sql_type = Jsonb)]
    pub results: Value,
    #[diesel(sql_type = Text)]
    pub graded: String,
    #[diesel(sql_type = Text)]
    pub grade: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub override_reason: Option<String>,
    #[diesel(sql_type = Text)]
    pub grade_before: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub notes: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub inspected_at: DateTime<Utc>,
}

/// An inspection as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inspection {
    pub id: Uuid,
    pub lot_id: Uuid,
    pub commodity_code: String,
    /// The version of the commodity's quality rules it was graded by.
    pub quality_version: i32,
    pub warehouse_id: Uuid,
    pub inspector_org_id: Uuid,
    pub inspector_user_id: Uuid,
    pub sample_size: i32,
    /// Parameter name → measured value.
    #[schema(value_type = BTreeMap<String, String>)]
    pub results: Value,
    /// The grade the results make by the rules.
    pub graded: String,
    /// The lot's grade from this inspection on: `graded`, unless overridden.
    pub grade: String,
    /// Why `grade` differs from `graded`, when it was overridden.
    pub override_reason: Option<String>,
    /// The lot's grade before this inspection.
    pub grade_before: String,
    pub notes: Option<String>,
    pub inspected_at: DateTime<Utc>,
    pub photos: Vec<PhotoRef>,
}

impl Inspection {
    pub fn from_row(row: InspectionRow, photos: Vec<PhotoRef>) -> Self {
        Self {
            id: row.id,
            lot_id: row.lot_id,
            commodity_code: row.commodity_code,
            quality_version: row.quality_version,
            warehouse_id: row.warehouse_id,
            inspector_org_id: row.inspector_org_id,
            inspector_user_id: row.inspector_user_id,
            sample_size: row.sample_size,
            results: row.results,
            graded: row.graded,
            grade: row.grade,
            override_reason: row.override_reason,
            grade_before: row.grade_before,
            notes: row.notes,
            inspected_at: row.inspected_at,
            photos,
        }
    }
}

/// A loan the new grade revalued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoanRevalued {
    pub loan_id: Uuid,
    pub margin_calls_opened: i64,
    pub loans_defaulted: i64,
}

/// What an inspection did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Inspected {
    pub inspection: Inspection,
    pub lot: crate::lots::model::Lot,
    /// The lot's grade changed.
    pub regraded: bool,
    /// Loans secured on the lot, revalued in the same transaction (only when regraded; not
    /// shown to warehouse staff or inspectors).
    pub loans_revalued: Vec<LoanRevalued>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DueQuery {
    pub warehouse_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// A lot to inspect: never inspected, or its re-inspection due on or before the business date.
#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct DueLot {
    #[diesel(sql_type = Int8)]
    #[serde(skip)]
    pub seq: i64,
    #[diesel(sql_type = SqlUuid)]
    pub lot_id: Uuid,
    #[diesel(sql_type = Text)]
    pub code: String,
    #[diesel(sql_type = Text)]
    pub commodity_code: String,
    #[diesel(sql_type = SqlUuid)]
    pub warehouse_id: Uuid,
    #[diesel(sql_type = Text)]
    pub grade: String,
    #[diesel(sql_type = Text)]
    pub declared_grade: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_inspected_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Date>)]
    pub inspection_due_on: Option<NaiveDate>,
    /// `never_inspected`, `due` (today) or `overdue`.
    #[diesel(sql_type = Text)]
    pub reason: String,
}

/// `POST /v1/warehouses/{id}/inspectors`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAssignment {
    /// An org of kind `inspector`.
    pub org_id: Uuid,
}

#[derive(Debug, Serialize, utoipa::ToSchema, diesel::QueryableByName)]
pub struct Assignment {
    #[diesel(sql_type = SqlUuid)]
    pub warehouse_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    pub inspector_org_id: Uuid,
    #[diesel(sql_type = Text)]
    pub inspector_name: String,
    #[diesel(sql_type = SqlUuid)]
    pub assigned_by: Uuid,
    #[diesel(sql_type = Timestamptz)]
    pub assigned_at: DateTime<Utc>,
}

/// Parameter name → decimal, for the domain's grading.
pub fn measured(results: &BTreeMap<String, Measurement>) -> BTreeMap<String, Decimal> {
    results
        .iter()
        .map(|(name, value)| (name.clone(), value.value()))
        .collect()
}
