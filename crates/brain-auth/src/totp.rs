//! Time-based one-time passwords (RFC 6238 over RFC 4226): HMAC-SHA1, 6 digits, 30-second
//! steps, one step of clock drift either way — what authenticator apps implement.

use crate::error::AuthError;
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use std::fmt;
use subtle::ConstantTimeEq;

/// A shared TOTP secret. Stored encrypted or at least access-controlled by the caller.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// 20 random bytes, the size of an HMAC-SHA1 block output (RFC 4226 §4 recommends 160 bits).
    pub fn generate() -> Self {
        Self(crate::random::bytes::<20>().to_vec())
    }

    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    /// From base32 as apps show it: case, spaces and padding are tolerated.
    pub fn from_base32(text: &str) -> Result<Self, AuthError> {
        let normalized: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let bytes = BASE32_NOPAD
            .decode(normalized.as_bytes())
            .map_err(|_| AuthError::invalid("TOTP secret is not base32"))?;
        if bytes.len() < 10 {
            return Err(AuthError::invalid("TOTP secret must have at least 80 bits"));
        }
        Ok(Self(bytes))
    }

    /// Base32 without padding, for storage and the enrolment URI.
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Totp {
    pub digits: u32,
    pub step_seconds: u64,
    /// Steps accepted either side of the current one.
    pub skew: u64,
}

impl Default for Totp {
    fn default() -> Self {
        Self {
            digits: 6,
            step_seconds: 30,
            skew: 1,
        }
    }
}

/// RFC 4226 HOTP: dynamic truncation of HMAC-SHA1(secret, counter), modulo 10^digits.
pub fn hotp(secret: &TotpSecret, counter: u64, digits: u32) -> u32 {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&secret.0) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits.min(9))
}

impl Totp {
    pub fn step_at(&self, unix_seconds: u64) -> u64 {
        unix_seconds / self.step_seconds.max(1)
    }

    /// The code for `unix_seconds`, zero-padded to `digits`.
    pub fn code_at(&self, secret: &TotpSecret, unix_seconds: u64) -> String {
        self.code_for_step(secret, self.step_at(unix_seconds))
    }

    fn code_for_step(&self, secret: &TotpSecret, step: u64) -> String {
        format!(
            "{:0width$}",
            hotp(secret, step, self.digits),
            width = usize::try_from(self.digits).unwrap_or(6)
        )
    }

    /// Checks `code` at `unix_seconds` and returns the accepted time step, which the caller
    /// stores: a later code is accepted only for a greater step, so an observed code cannot
    /// be replayed (RFC 6238 §5.2).
    pub fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        unix_seconds: u64,
        last_accepted_step: Option<u64>,
    ) -> Result<u64, AuthError> {
        let code = code.trim();
        if code.len() != usize::try_from(self.digits).unwrap_or(6)
            || !code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(AuthError::invalid(format!(
                "one-time code must be {} digits",
                self.digits
            )));
        }
        let current = self.step_at(unix_seconds);
        let mut matched = None;
        // Every candidate is compared, in constant time, whatever matches first.
        for step in current.saturating_sub(self.skew)..=current.saturating_add(self.skew) {
            let equal: bool = self
                .code_for_step(secret, step)
                .as_bytes()
                .ct_eq(code.as_bytes())
                .into();
            if equal && matched.is_none() {
                matched = Some(step);
            }
        }
        match matched {
            None => Err(AuthError::invalid("one-time code is wrong")),
            Some(step) if last_accepted_step.is_some_and(|last| step <= last) => {
                Err(AuthError::invalid("one-time code was already used"))
            }
            Some(step) => Ok(step),
        }
    }

    /// `otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
    /// (the Key URI Format authenticator apps read from a QR code).
    pub fn provisioning_uri(&self, secret: &TotpSecret, issuer: &str, account: &str) -> String {
        format!(
            "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={}&period={}",
            percent_encode(issuer),
            percent_encode(account),
            secret.to_base32(),
            percent_encode(issuer),
            self.digits,
            self.step_seconds
        )
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec())
    }

    #[test]
    fn rfc6238_sha1_vectors() {
        let totp = Totp {
            digits: 8,
            step_seconds: 30,
            skew: 1,
        };
        for (time, code) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(totp.code_at(&rfc_secret(), time), code, "T={time}");
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(&rfc_secret(), counter as u64, 6), code);
        }
    }

    #[test]
    fn accepts_one_step_of_drift_each_way_and_no_more() {
        let totp = Totp::default();
        let secret = TotpSecret::generate();
        let now = 1_800_000_015; // Middle of step 60_000_000.
        let step = totp.step_at(now);
        for (offset, accepted) in [
            (-60i64, false),
            (-30, true),
            (0, true),
            (30, true),
            (60, false),
        ] {
            let at = now.checked_add_signed(offset).unwrap();
            let code = totp.code_at(&secret, at);
            let result = totp.verify(&secret, &code, now, None);
            if accepted {
                assert_eq!(
                    result.unwrap(),
                    step.checked_add_signed(offset / 30).unwrap(),
                    "offset {offset}"
                );
            } else {
                assert!(result.is_err(), "offset {offset}");
            }
        }
    }

    #[test]
    fn step_boundaries() {
        let totp = Totp::default();
        assert_eq!(totp.step_at(29), 0);
        assert_eq!(totp.step_at(30), 1);
        let secret = rfc_secret();
        // At t=0 the previous step does not exist: no underflow.
        assert_eq!(
            totp.verify(&secret, &totp.code_at(&secret, 0), 0, None)
                .unwrap(),
            0
        );
    }

    #[test]
    fn replayed_or_older_codes_are_refused() {
        let totp = Totp::default();
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let code = totp.code_at(&secret, now);
        let step = totp.verify(&secret, &code, now, None).unwrap();
        assert!(
            totp.verify(&secret, &code, now + 5, Some(step))
                .unwrap_err()
                .to_string()
                .contains("already used")
        );
        let previous = totp.code_at(&secret, now - 30);
        assert!(totp.verify(&secret, &previous, now, Some(step)).is_err());
        let next = totp.code_at(&secret, now + 30);
        assert_eq!(
            totp.verify(&secret, &next, now + 30, Some(step)).unwrap(),
            step + 1
        );
    }

    #[test]
    fn malformed_codes_are_refused_with_the_reason() {
        let totp = Totp::default();
        let secret = TotpSecret::generate();
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert!(
                totp.verify(&secret, code, 100, None)
                    .unwrap_err()
                    .to_string()
                    .contains("6 digits"),
                "{code:?}"
            );
        }
        // Spaces around a code (copied from an app) are tolerated.
        let padded = format!(" {} ", totp.code_at(&secret, 100));
        assert!(totp.verify(&secret, &padded, 100, None).is_ok());
    }

    #[test]
    fn secrets_are_20_bytes_and_round_trip_through_base32() {
        let secret = TotpSecret::generate();
        let text = secret.to_base32();
        assert_eq!(text.len(), 32);
        assert!(!text.contains('='));
        assert_eq!(TotpSecret::from_base32(&text).unwrap(), secret);
        assert_eq!(
            TotpSecret::from_base32(&text.to_lowercase()).unwrap(),
            secret
        );
        assert_eq!(
            TotpSecret::from_base32("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ").unwrap(),
            rfc_secret()
        );
        assert!(TotpSecret::from_base32("not base32!").is_err());
        assert!(TotpSecret::from_base32("GEZDGNBV").is_err());
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }

    #[test]
    fn provisioning_uri_encodes_label_and_parameters() {
        let uri =
            Totp::default().provisioning_uri(&rfc_secret(), "产业大脑 Textile", "li.na@example.cn");
        assert_eq!(
            uri,
            "otpauth://totp/%E4%BA%A7%E4%B8%9A%E5%A4%A7%E8%84%91%20Textile:li.na%40example.cn?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=%E4%BA%A7%E4%B8%9A%E5%A4%A7%E8%84%91%20Textile&algorithm=SHA1&digits=6&period=30"
        );
    }
}
