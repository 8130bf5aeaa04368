//! Value detectors: does one sample value look like an identifier the grading rules care about?
//!
//! Each detector is a small hand-written validator (no regex): checksums and calendar dates are
//! checked, not just shapes, so that an 18-digit order number is not taken for an ID card. A column is
//! flagged only when enough of its samples match (see `grading`), so these judge single values.

use super::taxonomy::Lang;
use serde::{Deserialize, Serialize};

/// What a detector recognizes. Also the masking hint for a field (`masking::mask_value`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectorKind {
    /// Resident ID card number (居民身份证号码, GB 11643), 18-digit or legacy 15-digit.
    IdCard,
    /// Unified social credit code (统一社会信用代码, GB 32100-2015).
    Uscc,
    /// Mainland mobile phone number (手机号码).
    Phone,
    /// Bank card number (银行卡号), Luhn-valid.
    BankCard,
    Email,
    /// Precise Chinese address down to street and number (详细地址).
    Address,
    /// Precise geographic coordinates (经纬度).
    Coordinates,
}

impl DetectorKind {
    pub const ALL: [DetectorKind; 7] = [
        DetectorKind::IdCard,
        DetectorKind::Uscc,
        DetectorKind::Phone,
        DetectorKind::BankCard,
        DetectorKind::Email,
        DetectorKind::Address,
        DetectorKind::Coordinates,
    ];

    /// Whether one value matches. `axis` is the coordinate axis the field name announces (see
    /// [`coordinate_axis`]); only the coordinates detector uses it.
    pub fn matches(self, value: &str, axis: Option<Axis>) -> bool {
        match self {
            DetectorKind::IdCard => is_resident_id(value),
            DetectorKind::Uscc => is_uscc(value),
            DetectorKind::Phone => is_mobile_phone(value),
            DetectorKind::BankCard => is_bank_card(value),
            DetectorKind::Email => is_email(value),
            DetectorKind::Address => is_precise_address(value),
            DetectorKind::Coordinates => is_coordinate_pair(value) || axis.is_some_and(|a| is_coordinate_component(value, a)),
        }
    }

    /// Plural noun for explanations.
    pub fn noun(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (DetectorKind::IdCard, Lang::En) => "resident ID card numbers",
            (DetectorKind::IdCard, Lang::Zh) => "居民身份证号码",
            (DetectorKind::Uscc, Lang::En) => "unified social credit codes",
            (DetectorKind::Uscc, Lang::Zh) => "统一社会信用代码",
            (DetectorKind::Phone, Lang::En) => "mainland mobile phone numbers",
            (DetectorKind::Phone, Lang::Zh) => "手机号码",
            (DetectorKind::BankCard, Lang::En) => "bank card numbers",
            (DetectorKind::BankCard, Lang::Zh) => "银行卡号",
            (DetectorKind::Email, Lang::En) => "email addresses",
            (DetectorKind::Email, Lang::Zh) => "电子邮箱",
            (DetectorKind::Address, Lang::En) => "precise Chinese addresses",
            (DetectorKind::Address, Lang::Zh) => "详细地址",
            (DetectorKind::Coordinates, Lang::En) => "precise coordinates",
            (DetectorKind::Coordinates, Lang::Zh) => "精确经纬度",
        }
    }

    /// What "matched" means for this detector, completing "{m} of {n} samples …".
    pub fn check_phrase(self) -> &'static str {
        match self {
            DetectorKind::IdCard => "pass the GB 11643 checksum",
            DetectorKind::Uscc => "pass the GB 32100 checksum",
            DetectorKind::Phone => "are 11-digit 1[3-9] numbers",
            DetectorKind::BankCard => "pass the Luhn check",
            DetectorKind::Email => "are well-formed addresses",
            DetectorKind::Address => "name a district, a street and a number",
            DetectorKind::Coordinates => "have at least 4 decimals in range",
        }
    }

    /// Evidence sentence, e.g. "values look like resident ID card numbers (18 of 20 samples pass the
    /// GB 11643 checksum)".
    pub fn evidence_detail(self, matched: usize, sampled: usize) -> String {
        format!("values look like {} ({matched} of {sampled} samples {})", self.noun(Lang::En), self.check_phrase())
    }
}

/// Which coordinate a single-number field holds, as announced by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Axis {
    Latitude,
    Longitude,
}

/// The axis a field name announces: `lat`, `latitude`, `纬度` → latitude; `lng`, `lon`, `long`,
/// `longitude`, `经度` → longitude. English words must be whole name tokens (so `plate` or `relation`
/// say nothing); a name announcing both (`经纬度`, `lat_lng`) holds pairs, not one axis.
pub fn coordinate_axis(field_name: &str) -> Option<Axis> {
    let pair = field_name.contains("经纬");
    let mut lat = pair || field_name.contains("纬度");
    let mut lng = pair || field_name.contains("经度");
    for token in name_tokens(field_name) {
        match token.as_str() {
            "lat" | "latitude" => lat = true,
            "lng" | "lon" | "long" | "longitude" => lng = true,
            _ => {}
        }
    }
    match (lat, lng) {
        (true, false) => Some(Axis::Latitude),
        (false, true) => Some(Axis::Longitude),
        _ => None,
    }
}

/// Lower-case ASCII word tokens of a field name: split at non-alphanumerics, camelCase humps and
/// letter/digit boundaries (`gpsLat2` → `gps`, `lat`, `2`).
fn name_tokens(name: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
            prev = None;
            continue;
        }
        let boundary = match prev {
            Some(p) => (p.is_ascii_lowercase() && c.is_ascii_uppercase()) || (p.is_ascii_digit() != c.is_ascii_digit()),
            None => false,
        };
        if boundary && !current.is_empty() {
            tokens.push(std::mem::take(&mut current));
        }
        current.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

// ---------------------------------------------------------------------------------------------
// Resident ID card number (GB 11643-1999)

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

/// The check character (ISO 7064 MOD 11-2) for the first 17 digits of an ID number, or `None` if
/// the input is not exactly 17 ASCII digits. Public so demo-data generators can make valid numbers.
pub fn id_card_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = b.iter().zip(ID_WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    ID_CHECK.get((sum % 11) as usize).map(|&c| char::from(c))
}

/// 18-digit (check character `0-9`/`X`) or legacy 15-digit resident ID number with a plausible
/// province code and a real birth date.
pub fn is_resident_id(value: &str) -> bool {
    let v = value.trim().as_bytes();
    match v.len() {
        18 => {
            let Some(body) = v.get(..17) else { return false };
            let Ok(body) = std::str::from_utf8(body) else { return false };
            let Some(check) = id_card_check_char(body) else { return false };
            v.get(17).is_some_and(|c| c.to_ascii_uppercase() == check as u8)
                && id_region_ok(v, true)
                && digits_value(&v[6..10]).is_some_and(|y| (1900..2100).contains(&y))
                && date_ok(&v[6..10], &v[10..12], &v[12..14])
        }
        15 => v.iter().all(u8::is_ascii_digit) && id_region_ok(v, false) && date_ok(&[b'1', b'9', v[6], v[7]], &v[8..10], &v[10..12]),
        _ => false,
    }
}

/// First two digits are a province-level code (11–65, 71 Taiwan, 81/82 Hong Kong/Macao, 83 residence
/// permits); 18-digit numbers may also start with 9 (2023 foreigners' permanent residence ID card).
fn id_region_ok(v: &[u8], allow_foreigner: bool) -> bool {
    let (Some(&a), Some(&b)) = (v.first(), v.get(1)) else { return false };
    if !a.is_ascii_digit() || !b.is_ascii_digit() {
        return false;
    }
    let code = (a - b'0') * 10 + (b - b'0');
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83) || (allow_foreigner && (91..=96).contains(&code))
}

fn digits_value(d: &[u8]) -> Option<u32> {
    if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(d.iter().fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0')))
}

fn is_leap(year: u32) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// A real calendar date from ASCII digit slices.
fn date_ok(y: &[u8], m: &[u8], d: &[u8]) -> bool {
    match (digits_value(y), digits_value(m), digits_value(d)) {
        (Some(y), Some(m), Some(d)) => valid_ymd(y, m, d),
        _ => false,
    }
}

pub(crate) fn valid_ymd(year: u32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

// ---------------------------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015)

/// The 31 code characters (no I, O, S, V, Z); a character's value is its index.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// 3^i mod 31.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// Registration authorities (登记管理部门码): 1–9, A (military), N (agriculture), Y (other).
const USCC_AUTHORITIES: &[u8] = b"123456789ANY";

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// The check character for the first 17 characters of a USCC (check = 31 − sum mod 31, 31 → 0), or
/// `None` if a character is outside the code set. Public so demo-data generators can make valid codes.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in b.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(c.to_ascii_uppercase())? * w;
    }
    let check = (31 - sum % 31) % 31;
    USCC_CHARSET.get(check as usize).map(|&c| char::from(c))
}

/// 18 characters: registration authority, type code (1–9), 6-digit administrative division code,
/// 9-character organization code, check character.
pub fn is_uscc(value: &str) -> bool {
    let v = value.trim();
    let b = v.as_bytes();
    if b.len() != 18 {
        return false;
    }
    let up = |i: usize| b.get(i).map(u8::to_ascii_uppercase);
    let authority_ok = up(0).is_some_and(|c| USCC_AUTHORITIES.contains(&c));
    let type_ok = up(1).is_some_and(|c| (b'1'..=b'9').contains(&c));
    let division_ok = b[2..8].iter().all(u8::is_ascii_digit);
    if !(authority_ok && type_ok && division_ok) {
        return false;
    }
    match (std::str::from_utf8(&b[..17]).ok().and_then(uscc_check_char), up(17)) {
        (Some(expected), Some(actual)) => expected as u8 == actual,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Mobile phone

/// The 11-digit national number of a mainland mobile phone (`1[3-9]` + 9 digits), accepting a
/// `+86` / `86` / `0086` / `(+86)` prefix and spaces or dashes between digits; `None` otherwise.
pub fn mobile_national_number(value: &str) -> Option<String> {
    let v = value.trim();
    let (plus, rest) = if let Some(r) = v.strip_prefix("(+86)").or_else(|| v.strip_prefix("（+86）")) {
        (true, r)
    } else if let Some(r) = v.strip_prefix('+') {
        (true, r)
    } else {
        (false, v)
    };
    let rest = rest.trim_start();
    let mut digits = String::with_capacity(15);
    let mut prev_sep = true;
    for c in rest.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                prev_sep = false;
            }
            ' ' | '-' if !prev_sep => prev_sep = true,
            _ => return None,
        }
    }
    if prev_sep {
        return None; // empty or trailing separator
    }
    let plus_stripped = v.starts_with("(+86)") || v.starts_with("（+86）");
    let national = match digits.len() {
        11 if !plus || plus_stripped => digits.as_str(),
        13 if digits.starts_with("86") && !plus_stripped => &digits[2..],
        15 if digits.starts_with("0086") && !plus => &digits[4..],
        _ => return None,
    };
    let b = national.as_bytes();
    (b.first() == Some(&b'1') && b.get(1).is_some_and(|c| (b'3'..=b'9').contains(c))).then(|| national.to_string())
}

pub fn is_mobile_phone(value: &str) -> bool {
    mobile_national_number(value).is_some()
}

// ---------------------------------------------------------------------------------------------
// Bank card

/// Luhn check over ASCII digits.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = u32::from(c - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The digits of a bank card number: 13–19 digits (single spaces allowed between groups), not
/// starting with 0, Luhn-valid; `None` otherwise.
pub fn bank_card_digits(value: &str) -> Option<String> {
    let v = value.trim();
    let mut digits = String::with_capacity(19);
    let mut prev_space = true;
    for c in v.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                prev_space = false;
            }
            ' ' if !prev_space => prev_space = true,
            _ => return None,
        }
    }
    let ok = (13..=19).contains(&digits.len()) && !digits.starts_with('0') && luhn_valid(digits.as_bytes());
    ok.then_some(digits)
}

pub fn is_bank_card(value: &str) -> bool {
    bank_card_digits(value).is_some()
}

// ---------------------------------------------------------------------------------------------
// Email

/// A practical subset of RFC 5321 addresses: local part of `A-Za-z0-9._%+-` (no leading, trailing
/// or doubled dot, ≤ 64), domain of ≥ 2 dot-separated labels (alphanumeric and inner hyphens,
/// ≤ 63 each) ending in an alphabetic TLD of ≥ 2 letters.
pub fn is_email(value: &str) -> bool {
    let v = value.trim();
    let Some((local, domain)) = v.split_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.bytes().all(|c| c.is_ascii_alphanumeric() || b"._%+-".contains(&c));
    if !local_ok || domain.len() > 253 {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    let labels_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        });
    labels_ok && labels.last().is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
}

// ---------------------------------------------------------------------------------------------
// Precise address

/// Administrative-division markers (province, city, district, county, prefecture, banner, league).
const ADMIN_MARKERS: &[char] = &['省', '市', '区', '县', '州', '旗', '盟'];
/// Below-district markers: town, township, village, street, road, lane, alley.
const STREET_MARKERS: &[char] = &['镇', '乡', '村', '街', '路', '道', '巷', '弄', '胡'];
/// Markers that, right after a number, pin a door, building, room or group.
const NUMBER_MARKERS: &[char] = &['号', '弄', '室', '栋', '幢', '楼', '单', '层', '组', '座'];

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('０'..='９').contains(&c) || "零〇一二三四五六七八九十百千".contains(c)
}

/// A Chinese address precise enough to locate a door: an administrative unit (`…省/市/区/县`, the
/// marker following at least one other Chinese character), then a street-level unit (`…镇/街道/路/
/// 巷/弄/村`), then a number with a door/building/room marker (`90号`, `3栋`, `1202室`). Works inside
/// free text, but caps the length so a long document is not called an address.
pub fn is_precise_address(value: &str) -> bool {
    if value.len() > 120 * 4 {
        return false; // more than 120 characters in any encoding: skip collecting a long text
    }
    let chars: Vec<char> = value.trim().chars().collect();
    if chars.len() < 6 || chars.len() > 120 {
        return false;
    }
    let admin = (1..chars.len()).find(|&i| ADMIN_MARKERS.contains(&chars[i]) && is_cjk(chars[i - 1]) && !ADMIN_MARKERS.contains(&chars[i - 1]));
    let Some(admin) = admin else { return false };
    let street = (admin + 2..chars.len()).find(|&i| STREET_MARKERS.contains(&chars[i]) && is_cjk(chars[i - 1]));
    let Some(street) = street else { return false };
    (street + 2..chars.len()).any(|i| NUMBER_MARKERS.contains(&chars[i]) && is_numeral(chars[i - 1]))
}

/// Where a precise address sits in a clause of free text (a prompt, a note): the byte range from
/// the start of the run of Chinese characters holding its first administrative unit to the end of
/// its door/building/room part (`90号`, `5号1号楼1202室`, `3号楼2单元501室`), when that range is a
/// precise address by [`is_precise_address`]. `请寄到浙江省杭州市西湖区文三路90号的仓库` →
/// `请寄到浙江省杭州市西湖区文三路90号` (where the province's name starts is not known, so the run
/// is kept whole). Callers split text into clauses at punctuation and whitespace first, and call
/// again after the end for further addresses. One pass; allocates only to check a candidate.
pub fn precise_address_span(clause: &str) -> Option<std::ops::Range<usize>> {
    // Char indices of the first admin marker and of the first street marker after it.
    let mut admin: Option<usize> = None;
    let mut street: Option<usize> = None;
    let mut start = 0;
    let mut end: Option<usize> = None;
    let mut run_start = 0;
    let mut prev: Option<char> = None;
    for (ci, (at, c)) in clause.char_indices().enumerate() {
        if !is_cjk(c) {
            run_start = at + c.len_utf8();
        }
        let after_cjk = prev.is_some_and(is_cjk);
        let door = NUMBER_MARKERS.contains(&c) && prev.is_some_and(is_numeral);
        match (admin, street, end) {
            (None, _, _) => {
                if ADMIN_MARKERS.contains(&c) && after_cjk && !prev.is_some_and(|p| ADMIN_MARKERS.contains(&p)) {
                    admin = Some(ci);
                    start = run_start;
                }
            }
            (Some(a), None, _) => {
                if ci >= a + 2 && STREET_MARKERS.contains(&c) && after_cjk {
                    street = Some(ci);
                }
            }
            (Some(_), Some(s), None) => {
                if ci >= s + 2 && door {
                    end = Some(at + c.len_utf8());
                }
            }
            // After the first door number: more numbers and markers (`1号楼1202室`, `2单元`).
            (Some(_), Some(_), Some(_)) => {
                if door {
                    end = Some(at + c.len_utf8());
                } else if !(is_numeral(c) || NUMBER_MARKERS.contains(&c) || matches!(c, '元' | '-' | '#')) {
                    break;
                }
            }
        }
        prev = Some(c);
    }
    let range = start..end?;
    clause.get(range.clone()).is_some_and(is_precise_address).then_some(range)
}

/// The leading administrative part of an address, cut after the last district-level unit
/// (`浙江省杭州市西湖区文三路90号` → `浙江省杭州市西湖区`); `None` when the value does not start with
/// one. A unit is a name of at least two characters and its marker; one-character county names
/// (`沛县`) are missed, which cuts the address coarser, never finer.
pub fn address_district_prefix(value: &str) -> Option<String> {
    let chars: Vec<char> = value.trim().chars().collect();
    let mut pos = 0;
    loop {
        // A unit: a name of 2..=11 Chinese characters (markers allowed inside: 广州市, 市中区, 沙市区)
        // ended by the first marker after them; a street-level character ends the search.
        let mut end = None;
        let mut k = pos;
        while k < chars.len() && k - pos <= 11 {
            let c = chars[k];
            if !is_cjk(c) || STREET_MARKERS.contains(&c) {
                break;
            }
            if k - pos >= 2 && ADMIN_MARKERS.contains(&c) {
                end = Some(k + 1);
                break;
            }
            k += 1;
        }
        match end {
            Some(e) => pos = e,
            None => break,
        }
    }
    (pos > 0).then(|| chars[..pos].iter().collect())
}

// ---------------------------------------------------------------------------------------------
// Coordinates

/// A plain decimal (`-?\d+\.\d+`, no exponent) and its number of decimals.
pub(crate) fn parse_decimal(s: &str) -> Option<(f64, usize)> {
    let s = s.trim();
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (int, frac) = unsigned.split_once('.')?;
    if int.is_empty() || int.len() > 3 || frac.is_empty() || !int.bytes().all(|c| c.is_ascii_digit()) || !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<f64>().ok().map(|x| (x, frac.len()))
}

/// One coordinate with at least 4 decimals (≈ 11 m) in the axis' range.
pub fn is_coordinate_component(value: &str, axis: Axis) -> bool {
    let limit = match axis {
        Axis::Latitude => 90.0,
        Axis::Longitude => 180.0,
    };
    parse_decimal(value).is_some_and(|(x, decimals)| decimals >= 4 && x.abs() <= limit && x != 0.0)
}

/// Split a `lat,lng` (or `lng,lat`) pair, optionally in brackets, separated by a comma, Chinese
/// comma, semicolon or whitespace.
pub(crate) fn split_pair(value: &str) -> Option<(&str, &str, &str)> {
    let v = value.trim();
    let v = v
        .strip_prefix(['(', '[', '（'])
        .and_then(|r| r.strip_suffix([')', ']', '）']))
        .unwrap_or(v)
        .trim();
    for sep in [",", "，", ";"] {
        if let Some((a, b)) = v.split_once(sep) {
            return Some((a.trim(), sep, b.trim()));
        }
    }
    let (a, b) = v.split_once(char::is_whitespace)?;
    Some((a.trim(), " ", b.trim()))
}

/// A coordinate pair, either order, both with ≥ 4 decimals, one a valid latitude and both valid
/// longitudes; `0,0` ("null island") is a placeholder, not a place.
pub fn is_coordinate_pair(value: &str) -> bool {
    let Some((a, _, b)) = split_pair(value) else { return false };
    match (parse_decimal(a), parse_decimal(b)) {
        (Some((x, dx)), Some((y, dy))) => {
            dx >= 4 && dy >= 4 && x.abs() <= 180.0 && y.abs() <= 180.0 && (x.abs() <= 90.0 || y.abs() <= 90.0) && !(x == 0.0 && y == 0.0)
        }
        _ => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Independent GB 11643 check: (12 − Σ aᵢ·2^(17−i) mod 11) mod 11, 10 → X.
    pub(crate) fn make_id(body17: &str) -> String {
        let sum: u64 = body17.bytes().enumerate().map(|(i, c)| u64::from(c - b'0') * (1u64 << (17 - i)) % 11).sum();
        let check = (12 - sum % 11) % 11;
        let c = if check == 10 { 'X' } else { char::from(b'0' + check as u8) };
        format!("{body17}{c}")
    }

    /// Independent GB 32100 check: weights computed as 3^i mod 31.
    pub(crate) fn make_uscc(body17: &str) -> String {
        let set = "0123456789ABCDEFGHJKLMNPQRTUWXY";
        let mut w = 1u32;
        let mut sum = 0u32;
        for c in body17.chars() {
            sum += set.find(c).unwrap() as u32 * w;
            w = w * 3 % 31;
        }
        let check = (31 - sum % 31) % 31;
        format!("{body17}{}", set.as_bytes()[check as usize] as char)
    }

    /// Append a Luhn check digit.
    pub(crate) fn make_card(body: &str) -> String {
        for d in 0..10u8 {
            let candidate = format!("{body}{}", d);
            if luhn_valid(candidate.as_bytes()) {
                return candidate;
            }
        }
        unreachable!()
    }

    #[test]
    fn id_check_char_matches_the_standard_example_and_an_independent_formula() {
        // The worked example printed in GB 11643-1999.
        assert_eq!(id_card_check_char("11010519491231002"), Some('X'));
        assert!(is_resident_id("11010519491231002X"));
        assert!(is_resident_id("11010519491231002x"));
        for body in ["33010619850315123", "44030420000229456", "32058419700101001", "51010720221231998", "91110119900101001"] {
            let id = make_id(body);
            assert_eq!(id_card_check_char(body), id.chars().last(), "{id}");
            assert!(is_resident_id(&id), "{id}");
        }
        assert_eq!(id_card_check_char("1101051949123100"), None);
        assert_eq!(id_card_check_char("1101051949123100A"), None);
    }

    #[test]
    fn id_rejects_wrong_checksums_dates_and_regions() {
        let good = make_id("33010619850315123");
        // every other check character fails
        for c in "0123456789X".chars().filter(|&c| !good.ends_with(c)) {
            assert!(!is_resident_id(&format!("{}{c}", &good[..17])));
        }
        // impossible dates, even with a correct checksum
        for body in ["33010619850230123", "33010619851301123", "33010619850000123", "33010620230229123", "33010618800101123", "33010621500101123"] {
            assert!(!is_resident_id(&make_id(body)), "{body}");
        }
        // 2000 and 2024 were leap years, 1900 was not
        assert!(is_resident_id(&make_id("33010620000229123")));
        assert!(is_resident_id(&make_id("33010620240229123")));
        assert!(!is_resident_id(&make_id("33010619000229123")));
        // no such province code (00, 99), and letters inside
        assert!(!is_resident_id(&make_id("00010619850315123")));
        assert!(!is_resident_id(&make_id("99010619850315123")));
        assert!(!is_resident_id("3301061985031512AX"));
        assert!(!is_resident_id(""));
        assert!(!is_resident_id("330106 1985031512"));
    }

    #[test]
    fn an_order_number_is_not_an_id_card() {
        // 18-digit order numbers: a timestamp-like prefix means no province code and no date.
        assert!(!is_resident_id("202403151234567890"));
        assert!(!is_resident_id("100000000000000001"));
        // Even when the checksum happens to fit, the date does not.
        let lucky = make_id("20240315123456789");
        assert!(!is_resident_id(&lucky));
    }

    #[test]
    fn legacy_15_digit_ids_need_a_real_date() {
        assert!(is_resident_id("330106850315123"));
        assert!(is_resident_id("110105491231002"));
        assert!(!is_resident_id("330106850230123")); // 30 February
        assert!(!is_resident_id("330106851315123")); // month 13
        assert!(!is_resident_id("000106850315123")); // no region
        assert!(!is_resident_id("33010685031512X"));
    }

    #[test]
    fn uscc_check_char_matches_an_independent_formula() {
        for body in ["91330106MA27XK5Q1", "91320509MA1MXXXX0", "12100000400000624", "52440300MJL17335X", "93320584MA20AB3C7", "Y1110000000000001"] {
            let code = make_uscc(body);
            assert_eq!(uscc_check_char(body), code.chars().last(), "{code}");
            assert!(is_uscc(&code), "{code}");
        }
        // A widely published sample code checks out with the same formula.
        assert!(is_uscc("91350100M000100Y43"));
        assert_eq!(uscc_check_char("91350100M000100Y4"), Some('3'));
        // 31 → 0: find a body whose check value wraps and confirm it is '0'.
        let wrapped = (0..1000)
            .map(|n| format!("91330106MA2{n:03}XK5"))
            .find(|b| make_uscc(b).ends_with('0'))
            .unwrap();
        assert_eq!(uscc_check_char(&wrapped), Some('0'));
    }

    #[test]
    fn uscc_rejects_bad_checks_characters_and_structure() {
        let good = make_uscc("91330106MA27XK5Q1");
        let last = good.chars().last().unwrap();
        let wrong = if last == 'A' { 'B' } else { 'A' };
        assert!(!is_uscc(&format!("{}{wrong}", &good[..17])));
        // I, O, S, V, Z are not in the code set
        assert!(!is_uscc("91330106MA27XKIQ1A"));
        assert_eq!(uscc_check_char("91330106MA27XKOQ1"), None);
        // authority B is not a registration authority; type code 0 does not exist; division must be digits
        assert!(!is_uscc(&make_uscc("B1330106MA27XK5Q1")));
        assert!(!is_uscc(&make_uscc("90330106MA27XK5Q1")));
        assert!(!is_uscc(&make_uscc("913301A6MA27XK5Q1")));
        assert!(!is_uscc(&good[..17]));
        // lower case is accepted (people type it), whitespace around too
        assert!(is_uscc(&format!(" {} ", good.to_lowercase())));
    }

    #[test]
    fn mobile_phones_with_prefixes_and_separators() {
        for ok in ["13812345678", "199 1234 5678", "138-1234-5678", "+86 13812345678", "+86-138-1234-5678", "8613812345678", "008613812345678", "(+86)13812345678", " 15900001111 "] {
            assert!(is_mobile_phone(ok), "{ok}");
        }
        assert_eq!(mobile_national_number("+86 138-1234-5678").as_deref(), Some("13812345678"));
        for bad in ["12812345678", "10012345678", "1381234567", "138123456789", "+8513812345678", "+13812345678", "021-12345678", "138 1234 567a", "138--12345678", "13812345678-", "", "８613812345678"] {
            assert!(!is_mobile_phone(bad), "{bad}");
        }
    }

    #[test]
    fn bank_cards_are_luhn_checked() {
        let card = make_card("622202100112345678"); // 19-digit UnionPay-like
        assert!(is_bank_card(&card));
        assert!(is_bank_card("4111 1111 1111 1111"));
        let grouped = format!("{} {} {} {} {}", &card[..4], &card[4..8], &card[8..12], &card[12..16], &card[16..]);
        assert_eq!(bank_card_digits(&grouped).as_deref(), Some(card.as_str()));
        assert_eq!(bank_card_digits("4111 1111 1111 1111").as_deref(), Some("4111111111111111"));
        // a wrong last digit fails
        let last = card.as_bytes()[18] - b'0';
        assert!(!is_bank_card(&format!("{}{}", &card[..18], (last + 1) % 10)));
        // length, leading zero, separators
        assert!(!is_bank_card(&make_card("41111111111"))); // 12 digits
        assert!(!is_bank_card(&make_card("0111111111111111")));
        assert!(!is_bank_card("4111-1111-1111-1111"));
        assert!(!is_bank_card("4111  1111 1111 1111"));
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
        assert!(!luhn_valid(b""));
    }

    #[test]
    fn emails() {
        for ok in ["zhang.san@example.com", "li+orders@textile-co.com.cn", "a@b.cn", "Wang_Wu@QQ.COM"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in ["zhangsan", "@example.com", "zhang@", "zhang@@example.com", "zhang@example", "zhang@.example.com", ".zhang@example.com", "zh..ang@example.com", "zhang@example.c", "zhang@-example.com", "zhang san@example.com", "张三@example.com", "zhang@example.123"] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn precise_addresses() {
        for ok in [
            "浙江省杭州市西湖区文三路90号",
            "上海市黄浦区南京东路100号",
            "江苏省苏州市吴江区盛泽镇舜湖西路88号",
            "北京市海淀区中关村南大街5号1号楼1202室",
            "广东省广州市天河区天河路385号",
            "本公司位于江苏省苏州工业园区星湖街328号",
            "江苏省苏州市吴江区盛泽镇敦煌村8组",
            "杭州市萧山区宁围街道市心北路十八号",
        ] {
            assert!(is_precise_address(ok), "{ok}");
        }
        for bad in [
            "浙江省杭州市西湖区",  // no street, no number
            "上海市黄浦区南京东路", // no number
            "市场部",
            "华东区域销售",
            "3号车间",
            "123 Main Street",
            "",
        ] {
            assert!(!is_precise_address(bad), "{bad}");
        }
    }

    #[test]
    fn address_spans_in_clauses() {
        fn span(clause: &str) -> Option<&str> {
            precise_address_span(clause).map(|r| &clause[r])
        }
        assert_eq!(span("浙江省杭州市西湖区文三路90号"), Some("浙江省杭州市西湖区文三路90号"));
        assert_eq!(span("请寄到浙江省杭州市西湖区文三路90号的仓库"), Some("请寄到浙江省杭州市西湖区文三路90号"));
        assert_eq!(span("收件人张三13812345678上海市黄浦区南京东路100号"), Some("上海市黄浦区南京东路100号"), "the run of Chinese characters starts after the digits");
        assert_eq!(span("北京市海淀区中关村南大街5号1号楼1202室旁"), Some("北京市海淀区中关村南大街5号1号楼1202室"), "the last door marker ends it");
        assert_eq!(span("杭州市萧山区宁围街道市心北路十八号"), Some("杭州市萧山区宁围街道市心北路十八号"));
        assert_eq!(span("杭州市西湖区文三路3号楼2单元501室门口"), Some("杭州市西湖区文三路3号楼2单元501室"));
        assert_eq!(span("公司在上海市黄浦区南京东路100号另有3号车间"), Some("公司在上海市黄浦区南京东路100号"), "a later number is not the door's");
        // two addresses in one clause: the first, then the second from its end
        let two = "浙江省杭州市西湖区文三路90号上海市黄浦区南京东路100号";
        let first = precise_address_span(two).unwrap();
        assert_eq!(&two[first.clone()], "浙江省杭州市西湖区文三路90号");
        assert_eq!(span(&two[first.end..]), Some("上海市黄浦区南京东路100号"));
        // a long clause around an address
        let long_clause = format!("{}浙江省杭州市西湖区文三路90号{}", "a".repeat(200), "很".repeat(200));
        assert_eq!(span(&long_clause), Some("浙江省杭州市西湖区文三路90号"));
        for clause in ["浙江省杭州市西湖区", "上海市黄浦区南京东路", "3号车间", "市场部3号", "华东区域销售", "", "123 Main Street 5"] {
            assert_eq!(span(clause), None, "{clause}");
        }
        // more than 120 characters is not one address
        let long = format!("浙江省杭州市西湖区文三路{}90号", "很".repeat(120));
        assert_eq!(span(&long), None);
    }

    #[test]
    fn address_prefix_cuts_at_district() {
        assert_eq!(address_district_prefix("浙江省杭州市西湖区文三路90号").as_deref(), Some("浙江省杭州市西湖区"));
        assert_eq!(address_district_prefix("广东省广州市天河区天河路385号").as_deref(), Some("广东省广州市天河区"));
        assert_eq!(address_district_prefix("江苏省苏州市吴江区盛泽镇舜湖西路88号").as_deref(), Some("江苏省苏州市吴江区"));
        assert_eq!(address_district_prefix("北京市朝阳区市场街1号").as_deref(), Some("北京市朝阳区"));
        assert_eq!(address_district_prefix("新疆维吾尔自治区乌鲁木齐市天山区解放南路1号").as_deref(), Some("新疆维吾尔自治区乌鲁木齐市天山区"));
        assert_eq!(address_district_prefix("山东省济南市市中区经十路1号").as_deref(), Some("山东省济南市市中区"));
        assert_eq!(address_district_prefix("湖北省荆州市沙市区北京路1号").as_deref(), Some("湖北省荆州市沙市区"));
        assert_eq!(address_district_prefix("北京市通州区新华大街1号").as_deref(), Some("北京市通州区"));
        assert_eq!(address_district_prefix("江苏省徐州市沛县沛城镇1号").as_deref(), Some("江苏省徐州市"));
        assert_eq!(address_district_prefix("文三路90号"), None);
    }

    #[test]
    fn coordinates() {
        for ok in ["30.2741,120.1551", "120.1551, 30.2741", "(31.2304，121.4737)", "[121.473701 31.230416]", "-33.8688,151.2093"] {
            assert!(is_coordinate_pair(ok), "{ok}");
        }
        for bad in ["30.27,120.15", "120.1551,95.0000", "190.0000,30.0000", "0.0000,0.0000", "30.2741", "1.2e1,3.4e1", "abc,def", "30.2741,120.1551,5.0000"] {
            assert!(!is_coordinate_pair(bad), "{bad}");
        }
        assert!(is_coordinate_component("30.2741", Axis::Latitude));
        assert!(!is_coordinate_component("120.1551", Axis::Latitude));
        assert!(is_coordinate_component("120.1551", Axis::Longitude));
        assert!(!is_coordinate_component("120.15", Axis::Longitude));
        assert!(!is_coordinate_component("1024.5000", Axis::Longitude));
    }

    #[test]
    fn coordinate_axis_from_field_names() {
        assert_eq!(coordinate_axis("lat"), Some(Axis::Latitude));
        assert_eq!(coordinate_axis("gpsLat"), Some(Axis::Latitude));
        assert_eq!(coordinate_axis("site_latitude"), Some(Axis::Latitude));
        assert_eq!(coordinate_axis("纬度"), Some(Axis::Latitude));
        assert_eq!(coordinate_axis("Longitude"), Some(Axis::Longitude));
        assert_eq!(coordinate_axis("device-lng"), Some(Axis::Longitude));
        assert_eq!(coordinate_axis("经度"), Some(Axis::Longitude));
        assert_eq!(coordinate_axis("经纬度"), None);
        assert_eq!(coordinate_axis("lat_lng"), None);
        assert_eq!(coordinate_axis("plate_no"), None);
        assert_eq!(coordinate_axis("relation"), None);
        assert_eq!(coordinate_axis("translation"), None);
    }

    #[test]
    fn matches_dispatches_and_describes() {
        assert!(DetectorKind::IdCard.matches("11010519491231002X", None));
        assert!(DetectorKind::Coordinates.matches("30.2741", Some(Axis::Latitude)));
        assert!(!DetectorKind::Coordinates.matches("30.2741", None));
        assert_eq!(
            DetectorKind::IdCard.evidence_detail(18, 20),
            "values look like resident ID card numbers (18 of 20 samples pass the GB 11643 checksum)"
        );
        assert_eq!(serde_json::to_string(&DetectorKind::BankCard).unwrap(), "\"bank_card\"");
    }
}
