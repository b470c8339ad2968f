//! GS1-128 barcodes: an element string encoded in Code 128 (ISO/IEC 15417) with FNC1 first
//! and after each variable-length element, in as few symbols as a simple choice of code sets
//! gives (code set C for runs of digit pairs, B otherwise), ready to draw as bars.

/// Bar and space widths of each Code 128 symbol value, 0 to 106 (106: stop, 7 elements).
#[rustfmt::skip]
const PATTERNS: [&str; 107] = [
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312", "132212",
    "221213", "221312", "231212", "112232", "122132", "122231", "113222", "123122", "123221",
    "223211", "221132", "221231", "213212", "223112", "312131", "311222", "321122", "321221",
    "312212", "322112", "322211", "212123", "212321", "232121", "111323", "131123", "131321",
    "112313", "132113", "132311", "211313", "231113", "231311", "112133", "112331", "132131",
    "113123", "113321", "133121", "313121", "211331", "231131", "213113", "213311", "213131",
    "311123", "311321", "331121", "312113", "312311", "332111", "314111", "221411", "431111",
    "111224", "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111", "111242",
    "121142", "121241", "114212", "124112", "124211", "411212", "421112", "421211", "212141",
    "214121", "412121", "111143", "111341", "131141", "114113", "114311", "411113", "411311",
    "113141", "114131", "311141", "411131", "211412", "211214", "211232", "2331112",
];

const FNC1: u8 = 102;
const TO_C: u8 = 99;
const TO_B: u8 = 100;
const START_B: u8 = 104;
const START_C: u8 = 105;
const STOP: u8 = 106;

/// One element of a GS1 element string: its application identifier and data.
pub struct Element<'a> {
    pub ai: &'a str,
    pub data: &'a str,
    /// Whether the element's length varies, so FNC1 must end it when another follows.
    pub variable: bool,
}

/// The symbol values of a GS1-128 barcode of `elements`, start to check character (the
/// stop is added when drawing). `None` if a character is outside what Code 128 B carries.
pub fn symbols(elements: &[Element<'_>]) -> Option<Vec<u8>> {
    // The string to encode, with `None` for FNC1.
    let mut chars: Vec<Option<u8>> = vec![None];
    for (i, e) in elements.iter().enumerate() {
        chars.extend(e.ai.bytes().chain(e.data.bytes()).map(Some));
        if e.variable && i + 1 < elements.len() {
            chars.push(None);
        }
    }
    let digits_from = |at: usize| {
        chars[at..]
            .iter()
            .take_while(|c| c.is_some_and(|b| b.is_ascii_digit()))
            .count()
    };
    let mut out = Vec::new();
    let mut in_c = digits_from(1) >= 2;
    out.push(if in_c { START_C } else { START_B });
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            None => {
                out.push(FNC1);
                i += 1;
            }
            Some(_) if in_c && digits_from(i) >= 2 => {
                let pair = &chars[i..i + 2];
                let value = pair.iter().flatten().fold(0, |v, d| v * 10 + (d - b'0'));
                out.push(value);
                i += 2;
            }
            Some(_) if !in_c && digits_from(i) >= 4 && digits_from(i) % 2 == 0 => {
                out.push(TO_C);
                in_c = true;
            }
            Some(b) => {
                if in_c {
                    out.push(TO_B);
                    in_c = false;
                }
                if !(32..=127).contains(&b) {
                    return None;
                }
                out.push(b - 32);
                i += 1;
            }
        }
    }
    let check = out
        .iter()
        .enumerate()
        .map(|(position, v)| position.max(1) as u32 * u32::from(*v))
        .sum::<u32>()
        % 103;
    out.push(check as u8);
    Some(out)
}

/// The bars and spaces of the symbols and the stop, as module widths starting with a bar.
pub fn modules(symbols: &[u8]) -> Vec<u8> {
    symbols
        .iter()
        .chain(std::iter::once(&STOP))
        .flat_map(|v| PATTERNS[usize::from(*v)].bytes().map(|w| w - b'0'))
        .collect()
}

/// How a GS1-128 barcode reads back: the symbology prefix `]C1`, then the element string with
/// GS (0x1D) for each FNC1 after the first, as a scanner sends it. For tests and checks.
pub fn decode(widths: &[u8]) -> Option<String> {
    let mut values = Vec::new();
    let mut at = 0;
    while at + 6 <= widths.len() {
        let take = if widths.len() - at == 7 { 7 } else { 6 };
        let pattern: String = widths[at..at + take]
            .iter()
            .map(|w| char::from(b'0' + w))
            .collect();
        values.push(PATTERNS.iter().position(|p| *p == pattern)? as u8);
        at += take;
    }
    let (&stop, rest) = values.split_last()?;
    let (&check, body) = rest.split_last()?;
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(position, v)| position.max(1) as u32 * u32::from(*v))
        .sum();
    if stop != STOP || sum % 103 != u32::from(check) {
        return None;
    }
    let mut in_c = body.first() == Some(&START_C);
    let mut text = String::from("]C1");
    for (i, v) in body.iter().enumerate().skip(1) {
        match (*v, in_c) {
            (FNC1, _) if i == 1 => {}
            (FNC1, _) => text.push('\u{1d}'),
            // In code set C, 99 is the digits "99"; 100 switches to B.
            (TO_B, true) => in_c = false,
            (v, true) => text.push_str(&format!("{v:02}")),
            (TO_C, false) => in_c = true,
            (v, false) => text.push(char::from(v + 32)),
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_is_eleven_modules_and_the_stop_thirteen() {
        for (value, pattern) in PATTERNS.iter().enumerate() {
            let width: u32 = pattern.bytes().map(|w| u32::from(w - b'0')).sum();
            assert_eq!(width, if value == 106 { 13 } else { 11 }, "{value}");
        }
        let mut unique = PATTERNS.to_vec();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 107);
    }

    #[test]
    fn a_lot_code_and_a_net_weight_read_back_as_a_scanner_sends_them() {
        let elements = [
            Element {
                ai: "10",
                data: "K7M3QX9T3",
                variable: true,
            },
            Element {
                ai: "3101",
                data: "199500",
                variable: false,
            },
        ];
        let symbols = symbols(&elements).unwrap();
        // Start C, FNC1, "10", to B, nine characters, FNC1, to C, five pairs, check.
        assert_eq!(symbols.len(), 1 + 1 + 1 + 1 + 9 + 1 + 1 + 5 + 1);
        let text = decode(&modules(&symbols)).unwrap();
        assert_eq!(text, "]C110K7M3QX9T3\u{1d}3101199500");
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let read = crate::domain::gs1::parse(&text, today).unwrap();
        assert_eq!(read.batch.as_deref(), Some("K7M3QX9T3"));
        assert_eq!(
            read.net_weight_kg,
            Some(rust_decimal::Decimal::new(199_500, 1))
        );
    }

    #[test]
    fn digit_pairs_that_look_like_switches_are_digits() {
        for weight in ["019950", "999999", "100099"] {
            let elements = [
                Element {
                    ai: "10",
                    data: "A9",
                    variable: true,
                },
                Element {
                    ai: "3100",
                    data: weight,
                    variable: false,
                },
            ];
            let text = decode(&modules(&symbols(&elements).unwrap())).unwrap();
            assert_eq!(text, format!("]C110A9\u{1d}3100{weight}"));
        }
    }

    #[test]
    fn a_mistaken_bar_fails_the_check_character() {
        let elements = [Element {
            ai: "10",
            data: "ABC",
            variable: true,
        }];
        let mut misread = symbols(&elements).unwrap();
        assert_eq!(decode(&modules(&misread)).as_deref(), Some("]C110ABC"));
        // One character read as another ('B' as 'C'), the check character left as it was.
        let b = misread.iter().position(|v| *v == b'B' - 32).unwrap();
        misread[b] += 1;
        assert_eq!(decode(&modules(&misread)), None);
    }
}
