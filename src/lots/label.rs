//! A printable 100 × 150 mm lot label: the owner, a QR code and a GS1-128 barcode of the lot
//! code ((10), and (310n) net weight for goods counted by weight), the code in large type,
//! what is on hand, the dates, and the warehouse. Both symbols keep their standard quiet
//! zones: four modules round the QR code (ISO/IEC 18004), ten either side of the GS1-128
//! bars (ISO/IEC 15417). Many labels print at once as one HTML page, one label per sheet.

use super::model::LotRow;
use crate::domain::code128::{self, Element};
use crate::domain::quantity::Quantity;
use qrcode::{Color, EcLevel, QrCode};
use rust_decimal::Decimal;
use std::fmt::Write;

/// What a label names besides the lot itself.
pub struct Names<'a> {
    pub commodity: &'a str,
    pub owner: &'a str,
    /// The warehouse and its address, or the vessel and where it is bound.
    pub place: Option<(&'a str, &'a str)>,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// At most `n` characters of `text`, with an ellipsis when cut.
fn clip(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        escape(text)
    } else {
        escape(&format!(
            "{}…",
            text.chars().take(n - 1).collect::<String>()
        ))
    }
}

/// The (310n) net weight element for `quantity` in `unit`: kilograms with as many decimals
/// (0 to 3) as it needs, else as many as fit in six digits, never overstated. `None` for
/// goods not counted by weight, or over 999,999 kg.
pub fn net_weight(quantity: Decimal, unit: &str) -> Option<(String, String)> {
    let kg = match unit {
        "kg" => quantity,
        "t" => quantity * Decimal::from(1000),
        _ => return None,
    };
    let limit = Decimal::from(1_000_000);
    let fits: Vec<u32> = (0..=3u32)
        .filter(|n| kg * Decimal::from(10u64.pow(*n)) < limit)
        .collect();
    let exact = fits
        .iter()
        .copied()
        .find(|n| (kg * Decimal::from(10u64.pow(*n))).fract().is_zero());
    let n = exact.or_else(|| fits.last().copied())?;
    let digits = (kg * Decimal::from(10u64.pow(n))).trunc();
    Some((format!("310{n}"), format!("{digits:0>6}")))
}

/// The QR code of the lot code, with its quiet zone, in a `size` mm square at (x, y).
fn qr(code: &str, (x, y, size): (f64, f64, f64)) -> anyhow::Result<String> {
    let qr = QrCode::with_error_correction_level(code.as_bytes(), EcLevel::M)?;
    let modules = qr.width();
    let module = size / (modules + 8) as f64;
    let mut path = String::new();
    for (index, color) in qr.to_colors().iter().enumerate() {
        if *color == Color::Dark {
            let (cx, cy) = (index % modules, index / modules);
            let _ = write!(path, "M{cx} {cy}h1v1h-1z");
        }
    }
    Ok(format!(
        r#"<g id="qr" transform="translate({:.4} {:.4}) scale({module:.6})"><path d="{path}" fill="black" shape-rendering="crispEdges"/></g>"#,
        x + 4.0 * module,
        y + 4.0 * module,
    ))
}

/// The GS1-128 bars of `elements` across `width` mm (quiet zones included) at (x, y),
/// `height` mm tall, in module units (a bar's x and width are whole modules), with the
/// human-readable line under them.
fn gs1_128(
    elements: &[Element<'_>],
    (x, y, width, height): (f64, f64, f64, f64),
) -> Option<String> {
    let widths = code128::modules(&code128::symbols(elements)?);
    let total: u32 = widths.iter().map(|w| u32::from(*w)).sum();
    let module = width / f64::from(total + 20);
    let mut bars = String::new();
    let mut at = 10u32;
    for (i, w) in widths.iter().enumerate() {
        if i % 2 == 0 {
            let _ = write!(bars, r#"<rect x="{at}" width="{w}" height="1"/>"#);
        }
        at += u32::from(*w);
    }
    let human: String = elements
        .iter()
        .map(|e| format!("({}) {}", e.ai, escape(e.data)))
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        r#"<g id="gs1-128" data-module-mm="{module:.4}" transform="translate({x:.4} {y:.4}) scale({module:.6} {height})" fill="black" shape-rendering="crispEdges">{bars}</g>
<text x="50" y="{:.2}" font-size="3.6" font-family="DejaVu Sans Mono, monospace" text-anchor="middle">{human}</text>"#,
        y + height + 4.5,
    ))
}

/// The label as an SVG element measured in millimetres (without the XML declaration).
pub fn svg_element(lot: &LotRow, names: &Names<'_>) -> anyhow::Result<String> {
    let on_hand = Quantity::at(lot.quantity_on_hand, &lot.unit);
    let mut elements = vec![Element {
        ai: "10",
        data: &lot.code,
        variable: true,
    }];
    let weight = net_weight(lot.quantity_on_hand, &lot.unit);
    if let Some((ai, data)) = &weight {
        elements.push(Element {
            ai,
            data,
            variable: false,
        });
    }
    let bars = gs1_128(&elements, (4.0, 86.0, 92.0, 26.0))
        .ok_or_else(|| anyhow::anyhow!("the lot code is not Code 128 text"))?;
    let (place, address) = names.place.unwrap_or(("—", ""));
    let lines = [
        (32.0, 4.0, "normal", clip(names.commodity, 20)),
        (37.5, 4.0, "bold", format!("Grade {}", clip(&lot.grade, 12))),
        (
            45.0,
            5.0,
            "bold",
            format!("{on_hand} {}", escape(&lot.unit)),
        ),
        (49.5, 3.2, "normal", "on hand".to_owned()),
        (55.5, 3.6, "normal", format!("Packed {}", lot.packed_on)),
        (61.0, 3.6, "normal", format!("Expires {}", lot.expires_on)),
    ];
    let mut text = String::new();
    for (y, size, weight, line) in lines {
        let _ = write!(
            text,
            r#"<text x="52" y="{y}" font-size="{size}" font-weight="{weight}">{line}</text>"#
        );
    }
    Ok(format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="150mm" viewBox="0 0 100 150" font-family="DejaVu Sans, Noto Sans CJK SC, Arial, sans-serif">
<rect width="100" height="150" fill="white"/>
<text x="5" y="9" font-size="3.2">Owner</text>
<text x="5" y="14.5" font-size="5" font-weight="bold">{owner}</text>
{qr}
<text x="52" y="25" font-size="7.6" font-family="DejaVu Sans Mono, monospace" font-weight="bold" letter-spacing="0.3">{code}</text>
{text}
<text x="5" y="71" font-size="3.2">Warehouse</text>
<text x="5" y="76.5" font-size="4.6" font-weight="bold">{place}</text>
<text x="5" y="81.5" font-size="3.4">{address}</text>
{bars}
<text x="50" y="140" font-size="3" text-anchor="middle">Holdfast · scan the QR or GS1-128 code · lot {code}</text>
</svg>"#,
        owner = clip(names.owner, 34),
        qr = qr(&lot.code, (4.0, 17.0, 46.0))?,
        code = escape(&lot.code),
        place = clip(place, 38),
        address = clip(address, 52),
    ))
}

/// Many labels as one HTML page that prints one 100 × 150 mm label per sheet.
pub fn page(labels: &[String]) -> String {
    let mut body = String::new();
    for label in labels {
        let _ = writeln!(body, "<section class=\"label\">{label}</section>");
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Holdfast labels ({n})</title>
<style>@page {{ size: 100mm 150mm; margin: 0 }} body {{ margin: 0 }}
.label {{ width: 100mm; height: 150mm; break-after: page; page-break-after: always }}
.label svg {{ display: block; width: 100mm; height: 150mm }}</style></head>
<body>
{body}</body></html>
"#,
        n = labels.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    #[test]
    fn the_net_weight_is_exact_where_six_digits_allow() {
        assert_eq!(
            net_weight(d("19950.000"), "kg"),
            Some(("3100".into(), "019950".into()))
        );
        assert_eq!(
            net_weight(d("19949.5"), "kg"),
            Some(("3101".into(), "199495".into()))
        );
        assert_eq!(
            net_weight(d("812.345"), "kg"),
            Some(("3103".into(), "812345".into()))
        );
        assert_eq!(
            net_weight(d("12.5"), "t"),
            Some(("3100".into(), "012500".into()))
        );
        // Not exact in six digits: as many places as fit, rounded down.
        assert_eq!(
            net_weight(d("123456.789"), "kg"),
            Some(("3100".into(), "123456".into()))
        );
        assert_eq!(net_weight(d("2000000"), "kg"), None);
        assert_eq!(net_weight(d("40"), "piece"), None);
    }
}
