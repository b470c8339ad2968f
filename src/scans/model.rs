//! The scan request and its answer.

use crate::domain::inputs::QuantityInput;
use crate::domain::states::ScanAction;
use crate::lots::model::{Lot, Movement};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// A lot code, or a GS1-128 element string whose (10) is the lot code.
    pub code: String,
    pub action: ScanAction,
    /// In the lot's unit. Defaults: the announced quantity (receive), what the release order
    /// still allows (release); required for count. A GS1 (310n) net weight counts as given.
    #[serde(default)]
    pub quantity: Option<QuantityInput>,
    /// Where the scan happens: the receiving, unloading or transfer-destination warehouse.
    #[serde(default)]
    pub warehouse_id: Option<Uuid>,
    /// The voyage to load onto.
    #[serde(default)]
    pub voyage_id: Option<Uuid>,
    /// The release order a release consumes.
    #[serde(default)]
    pub release_order_id: Option<Uuid>,
    /// Why a count differs from the book.
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"^[^\x00]*[^\s\x00][^\x00]*$"
    )]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ScanResult {
    pub action: ScanAction,
    pub lot: Lot,
    /// The movement written; `null` for a count that matched the book.
    pub movement: Option<Movement>,
    /// A count that found goods missing: the custody incident it recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<crate::incidents::model::Incident>,
}
