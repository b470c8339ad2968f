//! A printable 100 × 150 mm lot label: a QR code of the lot code, the code in large text, and
//! what a worker needs to tell the goods apart without a scanner.

use super::model::LotRow;
use qrcode::{Color, EcLevel, QrCode};
use std::fmt::Write;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The label as an SVG document measured in millimetres.
pub fn svg(lot: &LotRow, commodity_name: &str) -> anyhow::Result<String> {
    let qr = QrCode::with_error_correction_level(lot.code.as_bytes(), EcLevel::M)?;
    let modules = qr.width();
    let colors = qr.to_colors();
    // The QR code takes 80 mm of the width, with a 10 mm quiet zone either side.
    let module_mm = 80.0 / modules as f64;
    let mut path = String::new();
    for (index, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = (index % modules, index / modules);
            let _ = write!(path, "M{x} {y}h1v1h-1z");
        }
    }
    let quantity = lot.quantity_on_hand.max(lot.quantity_announced).normalize();
    let lines = [
        format!("{} — grade {}", escape(commodity_name), escape(&lot.grade)),
        format!("{} {}", quantity, escape(&lot.unit)),
        format!("Packed {}", lot.packed_on),
        format!("Expires {}", lot.expires_on),
    ];
    let mut text = String::new();
    for (n, line) in lines.iter().enumerate() {
        let _ = write!(
            text,
            r#"<text x="50" y="{}" font-size="6" text-anchor="middle">{line}</text>"#,
            117 + n * 8
        );
    }
    Ok(format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="100mm" height="150mm" viewBox="0 0 100 150" font-family="DejaVu Sans, Arial, sans-serif">
<rect width="100" height="150" fill="white"/>
<g transform="translate(10 8) scale({module_mm:.6})"><path d="{path}" fill="black" shape-rendering="crispEdges"/></g>
<text x="50" y="103" font-size="10" font-family="DejaVu Sans Mono, monospace" font-weight="bold" text-anchor="middle" letter-spacing="1">{code}</text>
{text}
</svg>
"#,
        code = escape(&lot.code),
    ))
}
