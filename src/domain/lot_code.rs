//! Lot codes: eight random characters and a check character from an alphabet without the
//! look-alikes 0/O, 1/I/L and U, so a code read aloud or typed from a label is unambiguous,
//! and a mistyped code (one wrong character, or two neighbours swapped) fails its check
//! instead of naming another lot. The check is Luhn mod N over the 30-character alphabet; like
//! every Luhn variant it misses exactly one transposition, of the first and last characters of
//! the alphabet (`2Z` ↔ `Z2`).

use std::fmt;

pub const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LENGTH: usize = 8;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LotCode(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LotCodeError {
    #[error("a lot code is {expected} characters; this one has {actual}")]
    Length { expected: usize, actual: usize },
    #[error("`{0}` is not a character lot codes use")]
    Character(char),
    #[error("the check character does not match: the code is mistyped")]
    Check,
}

fn value(c: u8) -> Option<usize> {
    ALPHABET.iter().position(|&a| a == c)
}

/// Luhn mod N: the character that makes the weighted sum of the whole code divisible by N.
fn check_character(body: &[u8]) -> u8 {
    let n = ALPHABET.len();
    let mut factor = 2;
    let mut sum = 0;
    for &c in body.iter().rev() {
        let addend = factor * value(c).unwrap_or(0);
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / n + addend % n;
    }
    ALPHABET[(n - sum % n) % n]
}

impl LotCode {
    /// A new random code.
    pub fn generate() -> Self {
        let mut random = [0u8; BODY_LENGTH];
        getrandom::fill(&mut random).expect("the operating system's random source is unavailable");
        // 256 is not a multiple of 30; the slight bias toward the first 16 characters costs a
        // fraction of a bit of the ~39 bits of randomness and nothing else.
        let body: Vec<u8> = random
            .iter()
            .map(|b| ALPHABET[*b as usize % ALPHABET.len()])
            .collect();
        let check = check_character(&body);
        let mut code = String::from_utf8(body).unwrap_or_default();
        code.push(check as char);
        Self(code)
    }

    /// Parses a code as typed or scanned: case, spaces and hyphens do not matter.
    pub fn parse(text: &str) -> Result<Self, LotCodeError> {
        let cleaned: Vec<u8> = text
            .bytes()
            .filter(|b| !matches!(b, b' ' | b'-'))
            .map(|b| b.to_ascii_uppercase())
            .collect();
        if cleaned.len() != BODY_LENGTH + 1 {
            return Err(LotCodeError::Length {
                expected: BODY_LENGTH + 1,
                actual: cleaned.len(),
            });
        }
        if let Some(&bad) = cleaned.iter().find(|&&c| value(c).is_none()) {
            return Err(LotCodeError::Character(bad as char));
        }
        if check_character(&cleaned[..BODY_LENGTH]) != cleaned[BODY_LENGTH] {
            return Err(LotCodeError::Check);
        }
        Ok(Self(String::from_utf8(cleaned).unwrap_or_default()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LotCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_codes_parse_back_in_any_case_and_with_separators() {
        for _ in 0..200 {
            let code = LotCode::generate();
            assert_eq!(LotCode::parse(code.as_str()), Ok(code.clone()));
            let loose = format!("{}-{} ", &code.as_str()[..4], &code.as_str()[4..]).to_lowercase();
            assert_eq!(LotCode::parse(&loose), Ok(code));
        }
    }

    #[test]
    fn look_alike_characters_are_refused() {
        assert_eq!(
            LotCode::parse("O2345678A"),
            Err(LotCodeError::Character('O'))
        );
        assert_eq!(
            LotCode::parse("2345678I9"),
            Err(LotCodeError::Character('I'))
        );
        assert!(matches!(
            LotCode::parse("ABC"),
            Err(LotCodeError::Length { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_detected(index in 0usize..9, shift in 1usize..30) {
            let code = LotCode::generate();
            let mut bytes = code.as_str().as_bytes().to_vec();
            let current = value(bytes[index]).unwrap();
            bytes[index] = ALPHABET[(current + shift) % 30];
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(LotCode::parse(&typo), Err(LotCodeError::Check));
        }

        #[test]
        fn swapping_two_different_neighbours_is_detected(index in 0usize..8) {
            let code = LotCode::generate();
            let mut bytes = code.as_str().as_bytes().to_vec();
            prop_assume!(bytes[index] != bytes[index + 1]);
            let pair = [bytes[index], bytes[index + 1]];
            prop_assume!(pair != *b"2Z" && pair != *b"Z2");
            bytes.swap(index, index + 1);
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert_eq!(LotCode::parse(&typo), Err(LotCodeError::Check));
        }
    }
}
