//! The one field of an X.509 certificate the brain reports itself: when it expires. A full
//! parser would be a large dependency for a walk over five DER elements.

/// One DER element at the start of `input`: (tag, contents, rest).
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, input) = input.split_first()?;
    let (&first, input) = input.split_first()?;
    let (len, input) = if first < 0x80 {
        (usize::from(first), input)
    } else {
        let bytes = usize::from(first & 0x7f);
        if bytes == 0 || bytes > 4 || input.len() < bytes {
            return None;
        }
        let len = input[..bytes].iter().fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &input[bytes..])
    };
    (input.len() >= len).then(|| (tag, &input[..len], &input[len..]))
}

const SEQUENCE: u8 = 0x30;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// `[0] EXPLICIT Version` of a TBSCertificate.
const VERSION: u8 = 0xa0;

/// The certificate's notAfter as Unix seconds; None when `der` is not a certificate.
pub(crate) fn not_after(der: &[u8]) -> Option<i64> {
    let (SEQUENCE, certificate, _) = element(der)? else { return None };
    let (SEQUENCE, tbs, _) = element(certificate)? else { return None };
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = element(rest)?.2;
    }
    // serialNumber, signature, issuer
    for _ in 0..3 {
        rest = element(rest)?.2;
    }
    let (SEQUENCE, validity, _) = element(rest)? else { return None };
    let (_, _, after_not_before) = element(validity)?;
    let (tag, time, _) = element(after_not_before)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049, RFC 5280) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(tag: u8, text: &str) -> Option<i64> {
    let digits = text.strip_suffix('Z')?;
    let full = match (tag, digits.len()) {
        (UTC_TIME, 12) => {
            let yy: i32 = digits[..2].parse().ok()?;
            format!("{}{}", if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
        }
        (GENERALIZED_TIME, 14) => digits.to_owned(),
        _ => return None,
    };
    let time = chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S").ok()?;
    Some(time.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::pki_types::pem::PemObject;

    #[test]
    fn reads_not_after_of_issued_certificates() {
        let ca = brain_testkit::certs::TestCa::new("test CA").unwrap();
        for ((y, m, d), expected) in [((2027, 3, 1), 1_803_859_200), ((2051, 1, 2), 2_556_230_400)] {
            let issued = ca.issue_until(&["brain-trust"], (y, m, d)).unwrap();
            let der = CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
            assert_eq!(not_after(&der), Some(expected), "{y}-{m}-{d}");
        }
        let ca_der = CertificateDer::from_pem_slice(ca.pem().as_bytes()).unwrap();
        assert!(not_after(&ca_der).is_some_and(|t| t > 1_700_000_000));
    }

    #[test]
    fn refuses_what_is_not_a_certificate() {
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x82, 0xff]), None, "length beyond the input");
        assert_eq!(not_after(&[0x04, 0x01, 0x00]), None, "not a SEQUENCE");
        assert_eq!(parse_time(UTC_TIME, "491231235959Z"), Some(2_524_607_999));
        assert_eq!(parse_time(UTC_TIME, "500101000000Z"), Some(-631_152_000));
        assert_eq!(parse_time(GENERALIZED_TIME, "20270301000000"), None, "no Z");
    }
}
