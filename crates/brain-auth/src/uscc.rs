//! Unified social credit codes (统一社会信用代码, GB 32100-2015): 18 characters from a
//! 31-character alphabet (digits and capitals without I, O, S, V, Z); characters 3–8 are the
//! administrative division code (digits); the 18th is a check character.

use std::fmt;

const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weight of position i is 3^i mod 31.
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsccError {
    Length(usize),
    Character { position: usize, found: char },
    Division { position: usize, found: char },
    Check { expected: char, found: char },
}

impl fmt::Display for UsccError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length(n) => write!(f, "a unified social credit code has 18 characters, got {n}"),
            Self::Character { position, found } => {
                write!(
                    f,
                    "character {found:?} at position {position} is not allowed (digits and capitals except I, O, S, V, Z)"
                )
            }
            Self::Division { position, found } => {
                write!(
                    f,
                    "character {found:?} at position {position} must be a digit (administrative division code)"
                )
            }
            Self::Check { expected, found } => write!(
                f,
                "check character is {found:?}, the code requires {expected:?}"
            ),
        }
    }
}

fn value(c: char) -> Option<u32> {
    let byte = u8::try_from(c).ok()?;
    ALPHABET
        .iter()
        .position(|&a| a == byte)
        .and_then(|p| u32::try_from(p).ok())
}

/// The check character of the first 17 characters, if they are all in the alphabet.
pub fn check_character(first17: &str) -> Option<char> {
    if first17.chars().count() != 17 {
        return None;
    }
    let mut sum = 0;
    for (c, weight) in first17.chars().zip(WEIGHTS) {
        sum += value(c)? * weight;
    }
    let check = (31 - sum % 31) % 31;
    ALPHABET
        .get(usize::try_from(check).ok()?)
        .map(|&b| char::from(b))
}

pub fn validate(code: &str) -> Result<(), UsccError> {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() != 18 {
        return Err(UsccError::Length(chars.len()));
    }
    for (index, &c) in chars.iter().enumerate() {
        if value(c).is_none() {
            return Err(UsccError::Character {
                position: index + 1,
                found: c,
            });
        }
        if (2..8).contains(&index) && !c.is_ascii_digit() {
            return Err(UsccError::Division {
                position: index + 1,
                found: c,
            });
        }
    }
    let body: String = chars[..17].iter().collect();
    match check_character(&body) {
        Some(expected) if expected == chars[17] => Ok(()),
        Some(expected) => Err(UsccError::Check {
            expected,
            found: chars[17],
        }),
        None => Err(UsccError::Length(chars.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn accepts_published_codes() {
        // Two codes of registered companies, and the demo tenant of the README with the check
        // character its body requires (the README's `…Q71B` fails the checksum).
        for code in [
            "91350100M000100Y43",
            "91110000802100433B",
            "91330100MA27XKQ717",
        ] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn a_check_character_of_value_zero_is_0() {
        // Find a body whose sum is ≡ 0 (mod 31) by adjusting the last character.
        let prefix = "9133010000000000";
        let body = ALPHABET
            .iter()
            .map(|&b| format!("{prefix}{}", char::from(b)))
            .find(|b| check_character(b) == Some('0'))
            .unwrap();
        assert_eq!(validate(&format!("{body}0")), Ok(()));
    }

    #[test]
    fn refuses_each_kind_of_error_precisely() {
        assert_eq!(validate("91350100M000100Y4"), Err(UsccError::Length(17)));
        assert_eq!(validate("91350100M000100Y433"), Err(UsccError::Length(19)));
        assert_eq!(
            validate("91350100M000I00Y43"),
            Err(UsccError::Character {
                position: 13,
                found: 'I'
            })
        );
        assert_eq!(
            validate("91350100m000100Y43"),
            Err(UsccError::Character {
                position: 9,
                found: 'm'
            })
        );
        assert_eq!(
            validate("913501A0M000100Y43"),
            Err(UsccError::Division {
                position: 7,
                found: 'A'
            })
        );
        assert_eq!(
            validate("91350100M000100Y44"),
            Err(UsccError::Check {
                expected: '3',
                found: '4'
            })
        );
        // One changed character anywhere is detected.
        assert!(validate("91350100M000101Y43").is_err());
        assert!(validate("９1350100M000100Y43").is_err());
    }
}
