//! The cold chain's API types: reading batches, what a batch did, breach queries and
//! acknowledgements.

pub use super::store::Breach;
use crate::domain::inputs::Celsius;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The most readings one batch may carry.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingIn {
    pub warehouse_id: Uuid,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub sensor_id: String,
    pub recorded_at: DateTime<Utc>,
    pub celsius: Celsius,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadingBatch {
    /// 1 to 1,000 readings, in any order; repeats are ignored.
    #[schema(min_items = 1, max_items = 1000)]
    pub readings: Vec<ReadingIn>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReadingsAccepted {
    /// New readings stored.
    pub accepted: usize,
    /// Readings already stored before (same warehouse, sensor and time).
    pub duplicates: usize,
    /// The breaches these readings opened, extended or ended.
    pub breaches: Vec<Breach>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BreachQuery {
    pub warehouse_id: Option<Uuid>,
    /// Only breaches not yet acknowledged.
    pub open: Option<bool>,
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// What was found and done.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub comment: String,
    /// A grade to downgrade the goods in the warehouse to, where their commodity has it and
    /// it is lower than their grade now.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 16,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub grade_downgrade: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Downgrade {
    pub lot_id: Uuid,
    pub code: String,
    pub from_grade: String,
    pub to_grade: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Acknowledged {
    pub breach: Breach,
    pub downgraded: Vec<Downgrade>,
    /// The lots this acknowledgement took off quality hold: those that were in the warehouse
    /// during the breach and are held by no other. Lenders with pledges on them are told
    /// (`loan.collateral_hold_lifted`).
    pub holds_lifted: Vec<Uuid>,
}
