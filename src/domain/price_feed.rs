//! The daily price feed: a CSV file with a header naming the columns `commodity_code`,
//! `price_per_unit`, `currency`, `as_of` and `source`, in any order. A bad row stops the whole
//! file, named by its line number.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

/// The most rows one file may carry.
pub const MAX_ROWS: usize = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct PriceRow {
    /// 1-based line in the file.
    pub line: usize,
    pub commodity_code: String,
    pub price_per_unit: Decimal,
    pub currency: String,
    pub as_of: DateTime<Utc>,
    pub source: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CsvError {
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

fn error(line: usize, field: Option<&str>, message: impl Into<String>) -> CsvError {
    CsvError {
        line,
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

/// Splits one line into fields; double quotes may wrap a field, `""` is a quote inside one.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if current.trim().is_empty() => {
                current.clear();
                quoted = true;
            }
            (',', false) => out.push(std::mem::take(&mut current).trim().to_owned()),
            (c, _) => current.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(current.trim().to_owned());
    Some(out)
}

/// A timestamp (RFC 3339) or a date (taken as midnight UTC).
fn parse_as_of(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::from_str(text)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

/// Parses a whole feed, refusing it at the first bad line. Long because it is one pass over
/// the lines with a check per column, each naming the line and the column at fault.
pub fn parse(text: &str) -> Result<Vec<PriceRow>, CsvError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')));
    let (_, header) = lines
        .next()
        .ok_or_else(|| error(1, None, "the file is empty"))?;
    let names = fields(header.trim_start_matches('\u{feff}'))
        .ok_or_else(|| error(1, None, "unclosed quote in the header"))?;
    let column = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| error(1, Some(name), format!("the header has no `{name}` column")))
    };
    let (code_at, price_at, currency_at, as_of_at, source_at) = (
        column("commodity_code")?,
        column("price_per_unit")?,
        column("currency")?,
        column("as_of")?,
        column("source")?,
    );
    let mut rows = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        if text.contains('\0') {
            return Err(error(line, None, "the line holds a NUL character"));
        }
        if rows.len() == MAX_ROWS {
            return Err(error(
                line,
                None,
                format!("a file holds at most {MAX_ROWS} rows"),
            ));
        }
        let values = fields(text).ok_or_else(|| error(line, None, "unclosed quote"))?;
        if values.len() != names.len() {
            return Err(error(
                line,
                None,
                format!("expected {} fields, found {}", names.len(), values.len()),
            ));
        }
        let code = values[code_at].clone();
        if code.is_empty() {
            return Err(error(line, Some("commodity_code"), "empty"));
        }
        let price = Decimal::from_str(&values[price_at])
            .ok()
            .filter(|p| {
                *p > Decimal::ZERO
                    && *p <= Decimal::from(super::money::MAX_UNIT_PRICE)
                    && p.normalize().scale() <= 6
            })
            .ok_or_else(|| {
                error(
                    line,
                    Some("price_per_unit"),
                    format!(
                        "`{}` is not a positive decimal of at most {} with at most 6 decimal places",
                        values[price_at],
                        super::money::MAX_UNIT_PRICE
                    ),
                )
            })?;
        let currency = values[currency_at].clone();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(error(
                line,
                Some("currency"),
                format!("`{currency}` is not a currency code such as CNY"),
            ));
        }
        let as_of = parse_as_of(&values[as_of_at]).ok_or_else(|| {
            error(
                line,
                Some("as_of"),
                format!("`{}` is not a date or RFC 3339 time", values[as_of_at]),
            )
        })?;
        let source = values[source_at].clone();
        if source.is_empty() || source.chars().count() > 200 {
            return Err(error(
                line,
                Some("source"),
                "a source is 1 to 200 characters",
            ));
        }
        rows.push(PriceRow {
            line,
            commodity_code: code,
            price_per_unit: price,
            currency,
            as_of,
            source,
        });
    }
    if rows.is_empty() {
        return Err(error(2, None, "the file has no rows"));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_parses_with_columns_in_any_order_and_quotes() {
        let text = "source,commodity_code,price_per_unit,currency,as_of\r\n\"Yantai market, daily\",APPLE_FUJI,6.00,CNY,2026-11-23\n\nfeed,EUCALYPTUS_BOARD,1450.5,CNY,2026-11-23T08:00:00Z\n";
        let rows = parse(text).expect("valid");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].source, "Yantai market, daily");
        assert_eq!(rows[0].price_per_unit, Decimal::new(600, 2));
        assert_eq!(rows[1].line, 4);
        assert_eq!(rows[1].as_of.to_rfc3339(), "2026-11-23T08:00:00+00:00");
    }

    #[test]
    fn a_bad_row_is_named_by_line_and_field() {
        let header = "commodity_code,price_per_unit,currency,as_of,source\n";
        let cases = [
            (
                "APPLE,6,CNY,2026-11-23,x\nAPPLE,-1,CNY,2026-11-23,x\n",
                3,
                Some("price_per_unit"),
            ),
            ("APPLE,6,cny,2026-11-23,x\n", 2, Some("currency")),
            ("APPLE,6,CNY,23/11/2026,x\n", 2, Some("as_of")),
            ("APPLE,6,CNY\n", 2, None),
            ("APPLE,6,CNY,2026-11-23,\"open\n", 2, None),
            (
                "APPLE,6,CNY,2026-11-23,x\nAP\0PLE,6,CNY,2026-11-23,x\n",
                3,
                None,
            ),
            (
                "APPLE,999999999999999999.99,CNY,2026-11-23,x\n",
                2,
                Some("price_per_unit"),
            ),
            (
                "APPLE,6.0000001,CNY,2026-11-23,x\n",
                2,
                Some("price_per_unit"),
            ),
        ];
        for (body, line, field) in cases {
            let failure = parse(&format!("{header}{body}")).expect_err(body);
            assert_eq!(failure.line, line, "{body}");
            assert_eq!(failure.field.as_deref(), field, "{body}");
        }
        assert_eq!(
            parse("commodity_code,price\nA,1\n")
                .unwrap_err()
                .field
                .as_deref(),
            Some("price_per_unit")
        );
        assert!(parse("").is_err());
    }
}
