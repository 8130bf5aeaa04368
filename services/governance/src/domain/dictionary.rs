//! Field-name dictionary: terms in Chinese and English that say what a field holds.
//!
//! Matching is on a normalized form (lower case, separators and punctuation removed, full-width
//! Latin folded) and by substring, so `Process_Params`, `processParams` and `主要工艺参数` all find
//! their term. Substrings over-match in English (`cost` in `costume`, `wage` in `sewage`), so an
//! entry may list exceptions that veto it.

use super::detectors::DetectorKind;
use super::taxonomy::{DataDomain, Grade};
use serde::{Deserialize, Serialize};

/// One dictionary entry: any of `terms` in a field name gives it `grade` (and `domain`, when set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DictionaryEntry {
    /// Terms in any language; matched as substrings of the normalized field name.
    pub terms: Vec<String>,
    /// Substrings that veto the entry (`costume` for `cost`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except: Vec<String>,
    /// The data domain the term implies. Unset for personal data (a phone number can sit in an HR,
    /// sales or after-sales dataset): the dataset's domain is used then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DataDomain>,
    pub grade: Grade,
    /// Why the term deserves the grade, in plain words; quoted in explanations.
    pub reason: String,
    /// What the values are expected to be, as a masking hint (`身份证` → `id_card`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DetectorKind>,
}

/// A dictionary hit: the entry and the (longest) term that matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NameMatch<'a> {
    pub entry: &'a DictionaryEntry,
    pub term: &'a str,
}

/// Lower case, only letters and digits (any script), full-width Latin folded to ASCII.
pub fn normalize_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl DictionaryEntry {
    /// The longest term contained in `normalized` (already [`normalize_name`]d), unless an
    /// exception is contained too.
    pub fn match_normalized(&self, normalized: &str) -> Option<&str> {
        if self.except.iter().any(|e| {
            let e = normalize_name(e);
            !e.is_empty() && normalized.contains(&e)
        }) {
            return None;
        }
        self.terms
            .iter()
            .filter(|t| {
                let t = normalize_name(t);
                !t.is_empty() && normalized.contains(&t)
            })
            .max_by_key(|t| normalize_name(t).chars().count())
            .map(String::as_str)
    }
}

/// Every entry whose terms occur in `field_name`, in dictionary order.
pub fn match_field_name<'a>(field_name: &str, entries: &'a [DictionaryEntry]) -> Vec<NameMatch<'a>> {
    let normalized = normalize_name(field_name);
    if normalized.is_empty() {
        return Vec::new();
    }
    entries.iter().filter_map(|entry| entry.match_normalized(&normalized).map(|term| NameMatch { entry, term })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(terms: &[&str], except: &[&str], grade: Grade) -> DictionaryEntry {
        DictionaryEntry {
            terms: terms.iter().map(|s| s.to_string()).collect(),
            except: except.iter().map(|s| s.to_string()).collect(),
            domain: Some(DataDomain::Production),
            grade,
            reason: "test".into(),
            kind: None,
        }
    }

    #[test]
    fn normalization_ignores_case_separators_and_width() {
        assert_eq!(normalize_name("Process_Params"), "processparams");
        assert_eq!(normalize_name("process-params"), "processparams");
        assert_eq!(normalize_name("processParams"), "processparams");
        assert_eq!(normalize_name("process.params "), "processparams");
        assert_eq!(normalize_name("ＳＡＬＡＲＹ"), "salary");
        assert_eq!(normalize_name("工艺 参数（主）"), "工艺参数主");
        assert_eq!(normalize_name("__"), "");
    }

    #[test]
    fn substring_matching_in_both_languages() {
        let e = entry(&["工艺参数", "process_param"], &[], Grade::High);
        for name in ["process_params", "ProcessParameters", "line_process_param_set", "工艺参数", "主要工艺参数表"] {
            assert!(e.match_normalized(&normalize_name(name)).is_some(), "{name}");
        }
        assert!(e.match_normalized(&normalize_name("process_id")).is_none());
    }

    #[test]
    fn exceptions_veto_and_longest_term_wins() {
        let cost = entry(&["cost", "成本"], &["costume"], Grade::Medium);
        assert_eq!(cost.match_normalized("unitcost"), Some("cost"));
        assert_eq!(cost.match_normalized("costumetype"), None);
        let phone = entry(&["phone", "telephone"], &["headphone"], Grade::Medium);
        assert_eq!(phone.match_normalized("officetelephone"), Some("telephone"));
        assert_eq!(phone.match_normalized("headphonemodel"), None);
    }

    #[test]
    fn match_field_name_returns_every_entry_in_order() {
        let entries = vec![entry(&["price"], &[], Grade::Medium), entry(&["output"], &[], Grade::Low), entry(&["配方"], &[], Grade::High)];
        let hits = match_field_name("output_price", &entries);
        assert_eq!(hits.iter().map(|h| h.term).collect::<Vec<_>>(), vec!["price", "output"]);
        assert!(match_field_name("", &entries).is_empty());
        assert!(match_field_name("--", &entries).is_empty());
        assert_eq!(match_field_name("染色配方编号", &entries).len(), 1);
    }
}
