//! The guardrail's prompt scanner: how sensitive a prompt is, and the prompt with its
//! sensitive values masked.
//!
//! [`scan`] runs governance's value detectors (resident ID cards with the GB 11643 check, USCCs
//! with their check character, mobile phones, Luhn-valid bank cards, e-mail, precise addresses,
//! coordinate pairs) over free text — Chinese and English mixed, full-width digits, numbers
//! written in groups — and grades the prompt by the brain's classification rules: each detector
//! kind has the rules' grade, the prompt the highest of them. It also collects the datasets the
//! prompt names as `tenant/dataset`; [`grade_mentions`] grades those the caller may read from
//! the catalog. [`mask`] replaces every value graded at or above a grade by that grade's masking
//! policy and leaves every other byte as it was.
//!
//! What a scan returns is logged and audited, so it says which detectors matched, how often and
//! at which grade — never what they matched ([`Finding`] holds no text).
//!
//! Field names (the rules' dictionary) are not matched in prose: "price" or "合同" in a question
//! says nothing about what the prompt contains. See `scan/hits.rs` for how text is cut into
//! candidates and the plausibility rules free text needs on top of the detectors.

mod hits;
mod mentions;
#[cfg(test)]
mod tests;

pub use mentions::{DatasetMention, Lookups, MAX_LOOKUPS, MAX_MENTIONS, grade_mentions};

use brain_governance::domain::{ClassificationRules, DetectorKind, Grade, MaskingPolicy, mask_value};
use hits::{Enabled, Hit};
use serde::Serialize;
use serde_json::Value;

/// How sensitive a prompt is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PromptScan {
    /// The highest grade of the findings; low when nothing was found. Mentioned datasets are
    /// not in it: see [`PromptScan::overall_grade`].
    pub grade: Grade,
    /// One per detector that matched, in the order of [`DetectorKind::ALL`].
    pub findings: Vec<Finding>,
    /// Distinct `tenant/dataset` references, in order of appearance, ungraded until
    /// [`grade_mentions`].
    pub datasets: Vec<DatasetMention>,
}

impl PromptScan {
    /// The grade of the findings and of the graded dataset references together.
    pub fn overall_grade(&self) -> Grade {
        self.datasets.iter().filter_map(|d| d.grade).fold(self.grade, Grade::max)
    }
}

/// A detector that matched: which, how many values, and the rules' grade for that kind of data.
/// Holds no text, so it can be logged and audited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub detector: DetectorKind,
    pub count: usize,
    pub grade: Grade,
}

/// Position of a kind in [`DetectorKind::ALL`].
fn index(kind: DetectorKind) -> usize {
    match kind {
        DetectorKind::IdCard => 0,
        DetectorKind::Uscc => 1,
        DetectorKind::Phone => 2,
        DetectorKind::BankCard => 3,
        DetectorKind::Email => 4,
        DetectorKind::Address => 5,
        DetectorKind::Coordinates => 6,
    }
}

type Grades = [Option<Grade>; DetectorKind::ALL.len()];

/// The rules' grade of each detector kind; `None` where the rules leave the detector off.
fn grades(rules: &ClassificationRules) -> Grades {
    let mut grades: Grades = [None; DetectorKind::ALL.len()];
    for rule in &rules.detectors {
        if let Some(slot) = grades.get_mut(index(rule.detector)) {
            *slot = Some(rule.grade);
        }
    }
    grades
}

fn grade_of(grades: &Grades, kind: DetectorKind) -> Option<Grade> {
    grades.get(index(kind)).copied().flatten()
}

fn enabled(grades: &Grades, at_or_above: Grade) -> Enabled {
    DetectorKind::ALL
        .iter()
        .filter(|k| grade_of(grades, **k).is_some_and(|g| g >= at_or_above))
        .fold(Enabled::default(), |e, k| e.with(*k))
}

/// Grades `text` with the detectors the `rules` use, and finds the datasets it names.
pub fn scan(text: &str, rules: &ClassificationRules) -> PromptScan {
    let grades = grades(rules);
    let mut counts = [0usize; DetectorKind::ALL.len()];
    hits::find(text, enabled(&grades, Grade::Low), &mut |hit: Hit| {
        if let Some(count) = counts.get_mut(index(hit.kind)) {
            *count += 1;
        }
    });
    let findings: Vec<Finding> = DetectorKind::ALL
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .filter_map(|(kind, count)| grade_of(&grades, *kind).map(|grade| Finding { detector: *kind, count, grade }))
        .collect();
    let grade = findings.iter().map(|f| f.grade).max().unwrap_or(Grade::Low);
    PromptScan { grade, findings, datasets: mentions::find(text) }
}

/// `text` with every detected value whose kind the rules grade `at_or_above` or higher replaced
/// by that grade's masking policy (`rules.masking`): a partial mask keeps what the policy keeps
/// (`138****5678`, `110105********002X`, `z********@example.com`, an address up to its district),
/// a hash needs the brain's salt in the rules (`masking.with_salt`) and is a placeholder such as
/// `[ID_CARD]` without one, a dropped value is the placeholder, `keep` keeps. Values written
/// with full-width digits are masked in their ASCII form. Every other byte is unchanged.
///
/// Masking can expose what was glued to a masked value (`１３８１２３４５６７８a@b.cn`: the
/// full-width phone is part of a longer token until the address is masked), so the masked text
/// is scanned again, until nothing at or above the grade is left (at most [`MASK_ROUNDS`]
/// rounds; usually one, as a scan of the first result finds nothing).
pub fn mask(text: &str, rules: &ClassificationRules, at_or_above: Grade) -> String {
    let grades = grades(rules);
    let enabled = enabled(&grades, at_or_above);
    let mut masked = match mask_once(text, rules, &grades, enabled) {
        Some(masked) => masked,
        None => return text.to_owned(),
    };
    for _ in 1..MASK_ROUNDS {
        match mask_once(&masked, rules, &grades, enabled) {
            Some(again) => masked = again,
            None => break,
        }
    }
    masked
}

/// Most masking rounds; see [`mask`].
pub const MASK_ROUNDS: usize = 4;

/// One masking round; `None` when nothing was found.
fn mask_once(text: &str, rules: &ClassificationRules, grades: &Grades, enabled: Enabled) -> Option<String> {
    let mut found: Vec<Hit> = Vec::new();
    hits::find(text, enabled, &mut |hit: Hit| found.push(hit));
    if found.is_empty() {
        return None;
    }
    found.sort_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
    let policy = |kind: DetectorKind| rules.masking.policy_for(grade_of(grades, kind).unwrap_or(Grade::High));
    let mut out = String::with_capacity(text.len() + 32);
    let mut copied = 0;
    let mut i = 0;
    while let Some(first) = found.get(i) {
        // One span per group of overlapping values, masked as its highest-graded kind; a group of
        // several values gets a placeholder (no policy knows how to keep part of it).
        let mut span = *first;
        let mut parts = 1;
        let mut all_kept = *policy(span.kind) == MaskingPolicy::Keep;
        i += 1;
        while let Some(next) = found.get(i)
            && next.start < span.end
        {
            if grade_of(grades, next.kind) > grade_of(grades, span.kind) {
                span.kind = next.kind;
            }
            all_kept &= *policy(next.kind) == MaskingPolicy::Keep;
            span.end = span.end.max(next.end);
            parts += 1;
            i += 1;
        }
        out.push_str(text.get(copied..span.start).unwrap_or_default());
        let value = text.get(span.start..span.end).unwrap_or_default();
        if all_kept {
            out.push_str(value);
        } else if parts > 1 {
            out.push_str(placeholder(span.kind));
        } else {
            masked(value, span.kind, policy(span.kind), &mut out);
        }
        copied = span.end;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    // A value kept by a `keep` policy is found again: only a changed text needs another round.
    (out != text).then_some(out)
}

/// One value under its policy.
fn masked(value: &str, kind: DetectorKind, policy: &MaskingPolicy, out: &mut String) {
    if *policy == MaskingPolicy::Keep {
        out.push_str(value);
        return;
    }
    let value = if kind == DetectorKind::Address { value.to_owned() } else { ascii_form(value) };
    match mask_value(&Value::String(value), policy, Some(kind)) {
        Some(Value::String(s)) => out.push_str(&s),
        _ => out.push_str(placeholder(kind)),
    }
}

/// Full-width letters and digits in ASCII (`１３８` → `138`), so a value masks and hashes the
/// same however it was typed.
fn ascii_form(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// What stands in for a value no policy output can replace (dropped, or hashed without a salt).
pub fn placeholder(kind: DetectorKind) -> &'static str {
    match kind {
        DetectorKind::IdCard => "[ID_CARD]",
        DetectorKind::Uscc => "[USCC]",
        DetectorKind::Phone => "[PHONE]",
        DetectorKind::BankCard => "[BANK_CARD]",
        DetectorKind::Email => "[EMAIL]",
        DetectorKind::Address => "[ADDRESS]",
        DetectorKind::Coordinates => "[COORDINATES]",
    }
}
