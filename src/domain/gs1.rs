//! GS1-128 element strings as warehouse scanners read them: with parentheses around the
//! application identifiers ("(01)09501101530003(10)K7M3QX9T3"), or raw with an optional
//! symbology prefix ("]C1") and FNC1 shown as the GS character (0x1D) after variable-length
//! fields. Only the elements Holdfast uses are accepted; each is checked (digits, check digit,
//! calendar date, character set), and an error names the element at fault.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

const GS: char = '\u{1d}';

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gs1Scan {
    /// (00) Serial Shipping Container Code.
    pub sscc: Option<String>,
    /// (01) Global Trade Item Number.
    pub gtin: Option<String>,
    /// (10) batch or lot number: for Holdfast, the lot code.
    pub batch: Option<String>,
    /// (11)
    pub production_date: Option<NaiveDate>,
    /// (13)
    pub packaging_date: Option<NaiveDate>,
    /// (15)
    pub best_before: Option<NaiveDate>,
    /// (17)
    pub expiry: Option<NaiveDate>,
    /// (310n) net weight in kilograms, n decimals.
    pub net_weight_kg: Option<Decimal>,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("GS1 element {element}: {reason}")]
pub struct Gs1Error {
    /// The element at fault, as printed under a barcode: "(17)", or "(?)" when none was read.
    pub element: String,
    pub reason: String,
}

fn error(ai: &str, reason: impl Into<String>) -> Gs1Error {
    Gs1Error {
        element: format!("({ai})"),
        reason: reason.into(),
    }
}

#[derive(Clone, Copy)]
enum Format {
    /// Exactly this many digits, with a GS1 mod-10 check digit last.
    DigitsWithCheck(usize),
    /// YYMMDD.
    Date,
    /// Six digits, the AI's last digit giving the decimals.
    Weight,
    /// Up to this many characters of GS1's character set 82, ended by GS or the end.
    Text(usize),
}

/// The application identifiers Holdfast reads, longest prefix first where they overlap.
const TABLE: &[(&str, Format)] = &[
    ("00", Format::DigitsWithCheck(18)),
    ("01", Format::DigitsWithCheck(14)),
    ("10", Format::Text(20)),
    ("11", Format::Date),
    ("13", Format::Date),
    ("15", Format::Date),
    ("17", Format::Date),
    ("3100", Format::Weight),
    ("3101", Format::Weight),
    ("3102", Format::Weight),
    ("3103", Format::Weight),
    ("3104", Format::Weight),
    ("3105", Format::Weight),
];

fn fixed_length(format: Format) -> Option<usize> {
    match format {
        Format::DigitsWithCheck(n) => Some(n),
        Format::Date | Format::Weight => Some(6),
        Format::Text(_) => None,
    }
}

/// Whether scanned text is a GS1 element string rather than a bare lot code.
pub fn looks_like_gs1(text: &str) -> bool {
    let text = text.trim();
    text.starts_with('(')
        || text.starts_with("]C1")
        || text.starts_with("]d2")
        || text.starts_with("]Q3")
        || text.contains(GS)
        || (text.len() > 12 && text.bytes().take(2).all(|b| b.is_ascii_digit()))
}

/// Parses an element string. `today` anchors the century of two-digit years (GS1 rule: a year
/// more than 50 years ahead is in the past century, more than 49 behind in the next). Long
/// because it is one loop over the element string with a case per application identifier.
pub fn parse(text: &str, today: NaiveDate) -> Result<Gs1Scan, Gs1Error> {
    let text = text.trim();
    let elements = if text.starts_with('(') {
        split_bracketed(text)?
    } else {
        split_raw(text)?
    };
    if elements.is_empty() {
        return Err(error("?", "no elements were read"));
    }
    let mut scan = Gs1Scan::default();
    for (ai, data) in elements {
        let format = TABLE
            .iter()
            .find(|(known, _)| *known == ai)
            .map(|(_, format)| *format)
            .ok_or_else(|| error(&ai, "this application identifier is not one Holdfast reads"))?;
        let duplicate = || error(&ai, "appears twice");
        match format {
            Format::DigitsWithCheck(length) => {
                check_digits(&ai, &data, length)?;
                let slot = if ai == "00" {
                    &mut scan.sscc
                } else {
                    &mut scan.gtin
                };
                if slot.replace(data).is_some() {
                    return Err(duplicate());
                }
            }
            Format::Date => {
                let date = parse_date(&ai, &data, today)?;
                let slot = match ai.as_str() {
                    "11" => &mut scan.production_date,
                    "13" => &mut scan.packaging_date,
                    "15" => &mut scan.best_before,
                    _ => &mut scan.expiry,
                };
                if slot.replace(date).is_some() {
                    return Err(duplicate());
                }
            }
            Format::Weight => {
                if data.len() != 6 || !data.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(error(&ai, "a net weight is exactly 6 digits"));
                }
                let decimals = u32::from(ai.as_bytes()[3] - b'0');
                let units: i64 = data.parse().map_err(|_| error(&ai, "not a number"))?;
                if units == 0 {
                    return Err(error(&ai, "a net weight must be above zero"));
                }
                if scan
                    .net_weight_kg
                    .replace(Decimal::new(units, decimals))
                    .is_some()
                {
                    return Err(error("310n", "appears twice"));
                }
            }
            Format::Text(max) => {
                if data.is_empty() || data.chars().count() > max {
                    return Err(error(&ai, format!("must be 1 to {max} characters")));
                }
                if let Some(bad) = data.chars().find(|c| !in_character_set_82(*c)) {
                    return Err(error(
                        &ai,
                        format!("`{bad}` is not allowed in a GS1 element"),
                    ));
                }
                if scan.batch.replace(data).is_some() {
                    return Err(duplicate());
                }
            }
        }
    }
    Ok(scan)
}

fn split_bracketed(text: &str) -> Result<Vec<(String, String)>, Gs1Error> {
    let mut elements = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(after_open) = rest.strip_prefix('(') else {
            return Err(error("?", "expected `(` before an application identifier"));
        };
        let close = after_open
            .find(')')
            .ok_or_else(|| error("?", "an application identifier is missing its `)`"))?;
        let ai = &after_open[..close];
        if ai.is_empty() || ai.len() > 4 || !ai.bytes().all(|b| b.is_ascii_digit()) {
            return Err(error(ai, "an application identifier is 2 to 4 digits"));
        }
        let data_and_rest = &after_open[close + 1..];
        let end = data_and_rest.find('(').unwrap_or(data_and_rest.len());
        let data = data_and_rest[..end].trim_end_matches(GS);
        elements.push((ai.to_owned(), data.to_owned()));
        rest = &data_and_rest[end..];
    }
    Ok(elements)
}

fn split_raw(text: &str) -> Result<Vec<(String, String)>, Gs1Error> {
    let mut rest = text;
    for prefix in ["]C1", "]d2", "]Q3"] {
        rest = rest.strip_prefix(prefix).unwrap_or(rest);
    }
    let mut elements = Vec::new();
    loop {
        rest = rest.trim_start_matches(GS);
        if rest.is_empty() {
            return Ok(elements);
        }
        let Some((ai, format)) = TABLE.iter().find(|(ai, _)| rest.starts_with(ai)) else {
            let shown: String = rest.chars().take(2).collect();
            return Err(error(
                &shown,
                "this application identifier is not one Holdfast reads",
            ));
        };
        let body = &rest[ai.len()..];
        let length = match fixed_length(*format) {
            Some(n) => n.min(body.len()),
            None => body.find(GS).unwrap_or(body.len()),
        };
        if !body.is_char_boundary(length) {
            return Err(error(
                ai,
                "contains characters outside the GS1 character set",
            ));
        }
        elements.push(((*ai).to_owned(), body[..length].to_owned()));
        rest = &body[length..];
    }
}

fn check_digits(ai: &str, data: &str, length: usize) -> Result<(), Gs1Error> {
    if data.len() != length || !data.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(ai, format!("must be exactly {length} digits")));
    }
    let digits: Vec<u32> = data.bytes().map(|b| u32::from(b - b'0')).collect();
    let (body, check) = digits.split_at(length - 1);
    // GS1 mod 10: weights 3 and 1 alternate from the rightmost digit of the body.
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    if (10 - sum % 10) % 10 != check[0] {
        return Err(error(ai, "the check digit is wrong"));
    }
    Ok(())
}

fn parse_date(ai: &str, data: &str, today: NaiveDate) -> Result<NaiveDate, Gs1Error> {
    if data.len() != 6 || !data.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(ai, "a date is exactly 6 digits, YYMMDD"));
    }
    let number = |range: std::ops::Range<usize>| data[range].parse::<u32>().unwrap_or(0);
    let (yy, month, day) = (number(0..2) as i32, number(2..4), number(4..6));
    let current = today.year();
    let century = current - current.rem_euclid(100);
    let difference = yy - current.rem_euclid(100);
    let year = if difference >= 51 {
        century - 100 + yy
    } else if difference <= -50 {
        century + 100 + yy
    } else {
        century + yy
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1)
        .ok_or_else(|| error(ai, format!("month {month:02} does not exist")))?;
    if day == 0 {
        // DD = 00 means the last day of the month.
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| error(ai, "date out of range"))?;
        return Ok(next.pred_opt().unwrap_or(first));
    }
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| error(ai, format!("{data} is not a calendar date")))
}

fn in_character_set_82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    #[test]
    fn a_bracketed_string_yields_every_element() {
        let scan = parse("(00)106141411234567897(01)09501101530003(10)K7M3QX9T3(11)261001(13)261002(15)261231(17)270115(3103)020000", today())
            .expect("valid");
        assert_eq!(scan.sscc.as_deref(), Some("106141411234567897"));
        assert_eq!(scan.gtin.as_deref(), Some("09501101530003"));
        assert_eq!(scan.batch.as_deref(), Some("K7M3QX9T3"));
        assert_eq!(scan.production_date, NaiveDate::from_ymd_opt(2026, 10, 1));
        assert_eq!(scan.packaging_date, NaiveDate::from_ymd_opt(2026, 10, 2));
        assert_eq!(scan.best_before, NaiveDate::from_ymd_opt(2026, 12, 31));
        assert_eq!(scan.expiry, NaiveDate::from_ymd_opt(2027, 1, 15));
        assert_eq!(scan.net_weight_kg, Some(Decimal::new(20, 0)));
    }

    #[test]
    fn a_raw_string_with_symbology_prefix_and_group_separators_parses_the_same() {
        let raw = "]C10109501101530003\u{1d}10K7M3QX9T3\u{1d}3102001250\u{1d}17270115";
        let scan = parse(raw, today()).expect("valid");
        assert_eq!(scan.gtin.as_deref(), Some("09501101530003"));
        assert_eq!(scan.batch.as_deref(), Some("K7M3QX9T3"));
        assert_eq!(scan.net_weight_kg, Some(Decimal::new(1250, 2)));
        assert_eq!(scan.expiry, NaiveDate::from_ymd_opt(2027, 1, 15));
        // Fixed-length fields need no separator after them.
        let packed = parse("010950110153000317270115", today()).expect("valid");
        assert_eq!(packed.expiry, NaiveDate::from_ymd_opt(2027, 1, 15));
    }

    #[test]
    fn errors_name_the_element() {
        let cases = [
            ("(01)09501101530004", "(01)"),
            ("(00)10614141123456789", "(00)"),
            ("(17)271301", "(17)"),
            ("(15)270230", "(15)"),
            ("(3103)00000A", "(3103)"),
            ("(3103)000000", "(3103)"),
            ("(10)", "(10)"),
            ("(10)ABC#", "(10)"),
            ("(21)12345", "(21)"),
            ("(10)A(10)B", "(10)"),
            ("9912345678901234", "(99)"),
        ];
        for (input, element) in cases {
            let error = parse(input, today()).expect_err(input);
            assert_eq!(error.element, element, "{input}: {error}");
        }
    }

    #[test]
    fn day_zero_is_the_last_day_of_the_month_and_centuries_follow_the_gs1_rule() {
        let scan = parse("(17)270200", today()).expect("valid");
        assert_eq!(scan.expiry, NaiveDate::from_ymd_opt(2027, 2, 28));
        let old = parse("(11)990101", today()).expect("valid");
        assert_eq!(old.production_date, NaiveDate::from_ymd_opt(1999, 1, 1));
        let soon = parse("(17)760101", today()).expect("valid");
        assert_eq!(soon.expiry, NaiveDate::from_ymd_opt(2076, 1, 1));
    }

    #[test]
    fn lot_codes_are_not_taken_for_gs1() {
        assert!(!looks_like_gs1("K7M3QX9T3"));
        assert!(looks_like_gs1("(10)K7M3QX9T3"));
        assert!(looks_like_gs1("]C110K7M3QX9T3"));
        assert!(looks_like_gs1("0109501101530003"));
    }
}
