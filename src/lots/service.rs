//! Lot use cases shared by other areas: the lot as a viewer may see it.

use super::model::{Lot, LotRow};
use super::store::{self, Viewer};
use crate::error::ApiResult;
use diesel_async::AsyncPgConnection;

/// The lot as this viewer may see it.
pub async fn present(conn: &mut AsyncPgConnection, viewer: Viewer, row: LotRow) -> ApiResult<Lot> {
    let held = store::on_hold(conn, &row).await?;
    Ok(Lot::from_row(row, held, viewer.sees_money()))
}
