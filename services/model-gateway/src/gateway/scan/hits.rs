//! Where governance's value detectors match inside free text.
//!
//! Governance's detectors judge one value; a prompt is Chinese and English prose with numbers,
//! punctuation and full-width characters in it. This module cuts the prompt into candidates and
//! asks the detectors about each; it never decides on its own that something is an identifier.
//! Three linear passes over the bytes, no regular expressions, no allocation per token:
//!
//! - **numbers and codes**: maximal runs of ASCII or full-width letters and digits ("words").
//!   A word of 15 or 18 characters may be an ID card number or a USCC; digit words joined by
//!   single spaces or dashes (`138 1234 5678`, `+86-138-1234-5678`, `6222 0210 …`) may be a
//!   phone or a bank card, longest candidate first; a decimal followed by another (`30.2741,
//!   120.1551`) may be a coordinate pair. A word glued to `@`, `_` or a dotted name is part of
//!   something else (an e-mail, an identifier, a decimal) and is left alone.
//! - **e-mail**: around each `@`.
//! - **addresses**: clauses of Chinese text between punctuation, handed to
//!   [`detectors::precise_address_span`].
//!
//! Free text needs more evidence than a column of samples (where most values must match), so two
//! plausibility rules come on top of the detectors: a bank card must start like a card network's
//! numbers (an order number `2024031512345678` passes Luhn one time in ten), and a coordinate pair
//! must stand alone (not inside a list of numbers) with one component of magnitude ≥ 1.

use brain_governance::domain::DetectorKind;
use brain_governance::domain::detectors;

/// One detected value: its kind and byte range in the text. Never leaves the scan module with
/// the text attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Hit {
    pub kind: DetectorKind,
    pub start: usize,
    pub end: usize,
}

/// The detectors to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Enabled(u8);

impl Enabled {
    pub fn with(self, kind: DetectorKind) -> Self {
        Enabled(self.0 | bit(kind))
    }

    pub fn has(self, kind: DetectorKind) -> bool {
        self.0 & bit(kind) != 0
    }

    fn any(self, kinds: &[DetectorKind]) -> bool {
        kinds.iter().any(|k| self.has(*k))
    }
}

fn bit(kind: DetectorKind) -> u8 {
    1 << super::index(kind)
}

/// Calls `on_hit` for every value an enabled detector matches, pass by pass (not in text order).
pub(super) fn find(text: &str, enabled: Enabled, on_hit: &mut impl FnMut(Hit)) {
    use DetectorKind::*;
    if enabled.any(&[IdCard, Uscc, Phone, BankCard, Coordinates]) {
        numbers(text, enabled, on_hit);
    }
    if enabled.has(Email) {
        emails(text, on_hit);
    }
    if enabled.has(Address) {
        addresses(text, on_hit);
    }
}

// ---------------------------------------------------------------------------------------------
// Characters and words

/// The ASCII form and byte length of the letter or digit at `i`: ASCII, or full-width
/// (U+FF10–FF19 `０-９`, U+FF21–FF3A `Ａ-Ｚ`, U+FF41–FF5A `ａ-ｚ`).
#[inline]
fn unit(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let c = *b.get(i)?;
    if c.is_ascii_alphanumeric() {
        return Some((c, 1));
    }
    if c != 0xEF {
        return None;
    }
    match (b.get(i + 1), b.get(i + 2)) {
        (Some(0xBC), Some(&x @ 0x90..=0x99)) => Some((b'0' + (x - 0x90), 3)),
        (Some(0xBC), Some(&x @ 0xA1..=0xBA)) => Some((b'A' + (x - 0xA1), 3)),
        (Some(0xBD), Some(&x @ 0x81..=0x9A)) => Some((b'a' + (x - 0x81), 3)),
        _ => None,
    }
}

/// A maximal run of letters and digits.
#[derive(Clone, Copy, Debug, Default)]
struct Word {
    start: usize,
    end: usize,
    /// Characters (a full-width digit is one).
    units: usize,
    digits: usize,
    /// Holds full-width characters: detectors get the ASCII form.
    wide: bool,
}

impl Word {
    fn all_digits(&self) -> bool {
        self.digits == self.units
    }
}

/// The word starting at `start`. A change of width next to a letter ends a word
/// (`１３８１２３４５６７８zhang@qq.com`, `example.com１３８…`: typed in one mode, then the other);
/// digits of both widths stay together.
fn word_at(b: &[u8], start: usize) -> Word {
    let mut w = Word { start, end: start, ..Word::default() };
    let mut last: Option<(u8, usize)> = None;
    while let Some((c, len)) = unit(b, w.end) {
        if let Some((prev, prev_len)) = last
            && prev_len != len
            && (prev.is_ascii_alphabetic() || c.is_ascii_alphabetic())
        {
            break;
        }
        last = Some((c, len));
        w.units += 1;
        w.digits += usize::from(c.is_ascii_digit());
        w.wide |= len > 1;
        w.end += len;
    }
    w
}

fn byte(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn before(b: &[u8], i: usize) -> u8 {
    i.checked_sub(1).map_or(0, |p| byte(b, p))
}

/// `.5` after a word: the word is the integer part of a decimal.
fn decimal_point_after(b: &[u8], end: usize) -> bool {
    byte(b, end) == b'.' && byte(b, end + 1).is_ascii_digit()
}

/// The word is glued to something longer: an e-mail (`138…@qq.com`), an identifier
/// (`id_2024…`), a dotted name or number (`v1.2`, `0.138…`, `138….com`).
fn embedded(b: &[u8], w: &Word) -> bool {
    let prev = before(b, w.start);
    let glued_before = matches!(prev, b'@' | b'_') || (prev == b'.' && unit_ends_at(b, w.start - 1));
    let next = byte(b, w.end);
    let glued_after = matches!(next, b'@' | b'_') || (next == b'.' && unit(b, w.end + 1).is_some());
    glued_before || glued_after
}

/// A letter or digit (ASCII or full-width) ends right before `end`.
fn unit_ends_at(b: &[u8], end: usize) -> bool {
    before(b, end).is_ascii_alphanumeric() || end.checked_sub(3).and_then(|s| unit(b, s)).is_some_and(|(_, len)| len == 3)
}

/// The text of `start..end`, with full-width letters and digits in ASCII when `wide`.
fn candidate<'a>(text: &'a str, start: usize, end: usize, wide: bool, buf: &'a mut String) -> &'a str {
    let Some(raw) = text.get(start..end) else { return "" };
    if !wide {
        return raw;
    }
    buf.clear();
    let b = raw.as_bytes();
    let mut i = 0;
    for c in raw.chars() {
        match unit(b, i) {
            Some((ascii, len)) if len > 1 => buf.push(char::from(ascii)),
            _ => buf.push(c),
        }
        i += c.len_utf8();
    }
    buf.as_str()
}

// ---------------------------------------------------------------------------------------------
// Numbers and codes

/// Most groups a phone or card number is written in (`+86 138 1234 5678`, `6222 0210 0112 3456 789`).
const MAX_GROUPS: usize = 6;

fn numbers(text: &str, enabled: Enabled, on_hit: &mut impl FnMut(Hit)) {
    let b = text.as_bytes();
    let mut buf = String::new();
    let mut i = 0;
    while i < b.len() {
        if unit(b, i).is_none() {
            i += 1;
            continue;
        }
        let w = word_at(b, i);
        i = w.end.max(i + 1);
        if w.all_digits() && !w.wide && decimal_point_after(b, w.end) {
            i = decimal(text, &w, enabled, on_hit);
        } else if embedded(b, &w) {
            continue;
        } else if w.all_digits() {
            i = digit_groups(text, w, enabled, &mut buf, on_hit);
        } else if w.units == 15 || w.units == 18 {
            code(text, &w, enabled, &mut buf, on_hit);
        }
    }
}

/// An ID card number or a USCC in one word.
fn code(text: &str, w: &Word, enabled: Enabled, buf: &mut String, on_hit: &mut impl FnMut(Hit)) -> bool {
    if w.units != 15 && w.units != 18 {
        return false;
    }
    let value = candidate(text, w.start, w.end, w.wide, buf);
    let kind = if enabled.has(DetectorKind::IdCard) && detectors::is_resident_id(value) {
        DetectorKind::IdCard
    } else if w.units == 18 && enabled.has(DetectorKind::Uscc) && detectors::is_uscc(value) {
        DetectorKind::Uscc
    } else {
        return false;
    };
    on_hit(Hit { kind, start: w.start, end: w.end });
    true
}

/// Digit words joined by single spaces or dashes, tried as ID cards one by one and as phones
/// and bank cards longest first. Returns where scanning goes on.
fn digit_groups(text: &str, first: Word, enabled: Enabled, buf: &mut String, on_hit: &mut impl FnMut(Hit)) -> usize {
    let b = text.as_bytes();
    let mut groups = [first; MAX_GROUPS];
    let mut n = 1;
    let mut end = first.end;
    while n < MAX_GROUPS && matches!(byte(b, end), b' ' | b'-') && unit(b, end + 1).is_some() {
        let w = word_at(b, end + 1);
        if !w.all_digits() || embedded(b, &w) || decimal_point_after(b, w.end) {
            break;
        }
        groups[n] = w;
        n += 1;
        end = w.end;
    }
    let groups = &groups[..n];
    let plus = before(b, first.start) == b'+' && !before(b, first.start - 1).is_ascii_alphanumeric();
    let (phone, card) = (enabled.has(DetectorKind::Phone), enabled.has(DetectorKind::BankCard));
    let mut k = 0;
    'start: while let Some(g) = groups.get(k) {
        if code(text, g, enabled, buf, on_hit) {
            k += 1;
            continue;
        }
        for j in (k..groups.len()).rev() {
            let run = &groups[k..=j];
            let digits: usize = run.iter().map(|g| g.digits).sum();
            if !(11..=19).contains(&digits) {
                continue;
            }
            let start = if k == 0 && plus { g.start - 1 } else { g.start };
            let end = run.last().map_or(g.end, |l| l.end);
            let wide = run.iter().any(|g| g.wide);
            let value = candidate(text, start, end, wide, buf);
            let kind = if phone && run.iter().all(|g| g.digits >= 2 || run.len() == 1) && detectors::is_mobile_phone(value) {
                DetectorKind::Phone
            } else if card && card_groups(run) && plausible_card_prefix(value) && detectors::is_bank_card(value) {
                DetectorKind::BankCard
            } else {
                continue;
            };
            on_hit(Hit { kind, start, end });
            k = j + 1;
            continue 'start;
        }
        k += 1;
    }
    end
}

/// How card numbers are grouped: one block, or a first group of at least four digits and
/// groups of at least three (4-4-4-4, 4-6-5, 6-13, 4-4-4-4-3).
fn card_groups(run: &[Word]) -> bool {
    match run {
        [_] => true,
        [first, rest @ ..] => first.digits >= 4 && rest.iter().rev().skip(1).all(|g| g.digits >= 3),
        [] => false,
    }
}

/// Starts like a payment card: Visa 4, Mastercard 51–55 and 2221–2720, Maestro 50/56–58,
/// UnionPay and Discover 6, JCB 35, Amex 34/37, Diners 30/36/38/39, domestic 95xx.
fn plausible_card_prefix(value: &str) -> bool {
    let mut digits = value.bytes().filter(u8::is_ascii_digit).map(|d| u32::from(d - b'0'));
    let (Some(a), Some(b), Some(c), Some(d)) = (digits.next(), digits.next(), digits.next(), digits.next()) else { return false };
    match a {
        4..=6 => true,
        3 => matches!(b, 0 | 4..=9),
        2 => (2221..=2720).contains(&(a * 1000 + b * 100 + c * 10 + d)),
        9 => b == 5,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Coordinates

/// A decimal starting at the integer word `int`; when it begins a coordinate pair, report it.
/// Returns where scanning goes on.
fn decimal(text: &str, int: &Word, enabled: Enabled, on_hit: &mut impl FnMut(Hit)) -> usize {
    let b = text.as_bytes();
    let frac = word_at(b, int.end + 1);
    if embedded_decimal_start(b, int.start) || !frac.all_digits() || frac.wide {
        return frac.end;
    }
    let start = signed_start(b, int.start);
    if enabled.has(DetectorKind::Coordinates)
        && let Some(end) = coordinate_pair(text, start, frac.end)
    {
        on_hit(Hit { kind: DetectorKind::Coordinates, start, end });
        return end;
    }
    frac.end
}

/// `v1.30.2741`, `_30.27`, `a@30.27`: not a number of its own.
fn embedded_decimal_start(b: &[u8], start: usize) -> bool {
    let prev = before(b, start);
    matches!(prev, b'@' | b'_') || (prev == b'.' && unit_ends_at(b, start - 1))
}

/// Include a sign that stands before the number (`-33.8688`, not `A-33.86`).
fn signed_start(b: &[u8], start: usize) -> usize {
    if matches!(before(b, start), b'-' | b'+') && !before(b, start - 1).is_ascii_alphanumeric() { start - 1 } else { start }
}

/// A plain ASCII decimal (`-?\d+\.\d+`) starting at `i`: its end.
fn decimal_at(b: &[u8], i: usize) -> Option<usize> {
    let mut p = i;
    if matches!(byte(b, p), b'-' | b'+') {
        p += 1;
    }
    let int_start = p;
    while byte(b, p).is_ascii_digit() {
        p += 1;
    }
    if p == int_start || byte(b, p) != b'.' || !byte(b, p + 1).is_ascii_digit() {
        return None;
    }
    p += 1;
    while byte(b, p).is_ascii_digit() {
        p += 1;
    }
    let glued = unit(b, p).is_some() || (byte(b, p) == b'.' && unit(b, p + 1).is_some());
    (!glued).then_some(p)
}

/// `-?\d+\.\d` at `p`.
fn starts_decimal(b: &[u8], p: usize) -> bool {
    let p = if matches!(byte(b, p), b'-' | b'+') { p + 1 } else { p };
    let mut q = p;
    while byte(b, q).is_ascii_digit() {
        q += 1;
    }
    q > p && decimal_point_after(b, q)
}

/// `\d\.\d+` right before `end`.
fn ends_decimal(b: &[u8], end: usize) -> bool {
    let mut q = end;
    while before(b, q).is_ascii_digit() {
        q -= 1;
    }
    q < end && before(b, q) == b'.' && q >= 2 && before(b, q - 1).is_ascii_digit()
}

fn skip_blanks(b: &[u8], mut p: usize) -> usize {
    while matches!(byte(b, p), b' ' | b'\t') {
        p += 1;
    }
    p
}

fn skip_blanks_back(b: &[u8], mut p: usize) -> usize {
    while matches!(before(b, p), b' ' | b'\t') {
        p -= 1;
    }
    p
}

/// Length of a pair separator at `p`: `,`, `;` or the full-width comma `，`.
fn separator_at(b: &[u8], p: usize) -> usize {
    match byte(b, p) {
        b',' | b';' => 1,
        0xEF if byte(b, p + 1) == 0xBC && byte(b, p + 2) == 0x8C => 3,
        _ => 0,
    }
}

fn separator_before(b: &[u8], p: usize) -> usize {
    match before(b, p) {
        b',' | b';' => 1,
        0x8C if p >= 3 && byte(b, p - 3) == 0xEF && byte(b, p - 2) == 0xBC => 3,
        _ => 0,
    }
}

/// After the decimal `start..a_end`: a separator, a second decimal, nothing list-like around
/// them, and governance's pair check. Returns the pair's end.
fn coordinate_pair(text: &str, start: usize, a_end: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut p = skip_blanks(b, a_end);
    let sep = separator_at(b, p);
    p = skip_blanks(b, p + sep);
    if p == a_end {
        return None;
    }
    let b_start = p;
    let end = decimal_at(b, b_start)?;
    // Not one of a list: no decimal joined the same way after the pair or before it. (Integers
    // do not count: they may be masked themselves, and what masking leaves must scan the same.)
    let after = skip_blanks(b, end);
    let after = skip_blanks(b, after + separator_at(b, after));
    if after > end && starts_decimal(b, after) {
        return None;
    }
    let back = skip_blanks_back(b, start);
    let back = skip_blanks_back(b, back - separator_before(b, back));
    if back < start && ends_decimal(b, back) {
        return None;
    }
    let (first, second) = (text.get(start..a_end)?, text.get(b_start..end)?);
    let magnitude = |s: &str| s.parse::<f64>().map_or(0.0, f64::abs);
    let pair = text.get(start..end)?;
    (detectors::is_coordinate_pair(pair) && magnitude(first).max(magnitude(second)) >= 1.0).then_some(end)
}

// ---------------------------------------------------------------------------------------------
// E-mail

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

fn emails(text: &str, on_hit: &mut impl FnMut(Hit)) {
    let b = text.as_bytes();
    // Each `@` on its own: in `a@b.cn@c.com` both `a@b.cn` and `b.cn@c.com` are found, and
    // masking covers the overlap as one.
    for at in b.iter().enumerate().filter_map(|(i, c)| (*c == b'@').then_some(i)) {
        let mut start = at;
        while start > 0 && local_char(before(b, start)) {
            start -= 1;
        }
        while start < at && byte(b, start) == b'.' {
            start += 1;
        }
        let mut longest = at + 1;
        while domain_char(byte(b, longest)) {
            longest += 1;
        }
        // The longest well-formed address: what follows may be glued on with `.` or `-` (the
        // sentence's full stop, `a@b.com-13812345678`).
        let ends = std::iter::once(longest).chain((at + 2..longest).rev().filter(|p| matches!(byte(b, *p), b'.' | b'-')));
        if let Some(end) = ends.take(8).find(|end| text.get(start..*end).is_some_and(detectors::is_email)) {
            on_hit(Hit { kind: DetectorKind::Email, start, end });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Addresses

fn is_cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c) || ('\u{3400}'..='\u{4DBF}').contains(&c)
}

/// What an address is written with: Chinese characters, letters and digits (ASCII or
/// full-width), `-` and `#`. Anything else (punctuation, whitespace) ends a clause.
fn clause_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || is_cjk(c)
        || matches!(c, '-' | '#' | '－' | '＃' | '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ')
}

fn addresses(text: &str, on_hit: &mut impl FnMut(Hit)) {
    let mut clause: Option<(usize, bool)> = None; // start, holds Chinese characters
    for (at, c) in text.char_indices() {
        if clause_char(c) {
            let cjk = !c.is_ascii() && is_cjk(c);
            match &mut clause {
                Some((_, has_cjk)) => *has_cjk |= cjk,
                None => clause = Some((at, cjk)),
            }
        } else if let Some((start, true)) = clause.take() {
            addresses_in(text, start, at, on_hit);
        }
    }
    if let Some((start, true)) = clause {
        addresses_in(text, start, text.len(), on_hit);
    }
}

fn addresses_in(text: &str, start: usize, end: usize, on_hit: &mut impl FnMut(Hit)) {
    let mut from = start;
    while let Some(range) = text.get(from..end).and_then(detectors::precise_address_span) {
        on_hit(Hit { kind: DetectorKind::Address, start: from + range.start, end: from + range.end });
        from += range.end.max(1);
    }
}
