//! Cursor pagination: `limit` (default 50, at most 500) and an opaque `cursor`, answered as
//! `{"items": [...], "next_cursor": ...}`.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// How many items to return (1–500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    #[param(pattern = r"^[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::invalid(
                "limit",
                format!("limit must be from 1 to {MAX_LIMIT}"),
            )),
        }
    }

    /// Limit and position from a list query that carries its own filters beside them.
    pub fn bounds(
        limit: Option<i64>,
        cursor: Option<String>,
    ) -> Result<(i64, Option<i64>), ApiError> {
        let page = PageQuery { limit, cursor };
        Ok((page.limit()?, page.after()?))
    }

    /// The cursor as the position (an id or sequence number) after which the page starts.
    pub fn after(&self) -> Result<Option<i64>, ApiError> {
        match &self.cursor {
            None => Ok(None),
            Some(text) => Some(text)
                .filter(|t| (1..=18).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|t| t.parse::<i64>().ok())
                .map(Some)
                .ok_or_else(|| {
                    ApiError::invalid("cursor", "the cursor is not one this API issued")
                }),
        }
    }
}

/// A whole, short list (commodities, warehouses, an org's users): `{"items": [...]}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Listed<T> {
    pub items: Vec<T>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows: the extra row only tells that more exist.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, position: impl Fn(&T) -> i64) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(|row| position(row).to_string())
        } else {
            None
        };
        Self {
            items: rows,
            next_cursor,
        }
    }

    /// A page of a list paged by position (the cursor counts the items before it), from up to
    /// `limit + 1` rows read from `offset`.
    pub fn at_offset(mut rows: Vec<T>, offset: i64, limit: i64) -> Self {
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        Self {
            items: rows,
            next_cursor: more.then(|| (offset + limit).to_string()),
        }
    }

    /// The same page with each item turned into another.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}
