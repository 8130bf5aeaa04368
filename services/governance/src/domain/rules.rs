//! Classification rules are data: a brain replaces the built-in set with its own YAML or JSON.
//!
//! Parsing names the offending key (`dictionary[3].grade: unknown variant ...`), unknown keys are
//! errors (a typo must not silently disable a rule), and [`ClassificationRules::validate`] checks what
//! serde cannot (shares in range, no empty terms, each detector once).

use super::detectors::DetectorKind;
use super::dictionary::{DictionaryEntry, normalize_name};
use super::masking::MaskingTable;
use super::taxonomy::{DataDomain, Grade, GradeScheme};
use serde::{Deserialize, Serialize};

/// The built-in rules, embedded at compile time.
pub const BUILTIN_RULES_YAML: &str = include_str!("default_rules.yaml");

/// Everything classification and grading needs to know.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassificationRules {
    /// Recorded with every classification, so a result can be traced to the rules that made it.
    pub version: String,
    /// How grades are labelled: `high_medium_low` or `core_important_general`.
    #[serde(default)]
    pub grade_scheme: GradeScheme,
    /// Share of a field's non-empty samples a detector must match to flag the field.
    #[serde(default = "default_match_share")]
    pub match_share: f64,
    /// Grade of a field no dictionary term or detector matched.
    pub default_grade: Grade,
    /// Domain of a field nothing assigned one to, when the dataset has none either.
    pub default_domain: DataDomain,
    /// Value detectors in use and the grade each implies; a detector not listed is off.
    pub detectors: Vec<DetectorRule>,
    pub dictionary: Vec<DictionaryEntry>,
    /// Masking policy per grade, for the trust layer.
    pub masking: MaskingTable,
}

/// A value detector and the grade its match implies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorRule {
    pub detector: DetectorKind,
    pub grade: Grade,
    /// Domain implied by the detector; usually unset (personal data belongs to its dataset's domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<DataDomain>,
    /// Overrides `match_share` for this detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_share: Option<f64>,
    /// Why the match deserves the grade; quoted in explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn default_match_share() -> f64 {
    0.5
}

/// A rules document that cannot be used; `path` names the key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("classification rules do not parse at `{path}`: {message}")]
    Parse { path: String, message: String },
    #[error("classification rules are invalid at `{path}`: {message}")]
    Invalid { path: String, message: String },
}

impl RulesError {
    pub fn path(&self) -> &str {
        match self {
            RulesError::Parse { path, .. } | RulesError::Invalid { path, .. } => path,
        }
    }
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> RulesError {
    RulesError::Invalid { path: path.into(), message: message.into() }
}

fn parse_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> RulesError {
    let path = e.path().to_string();
    let path = if path == "." { "(top level)".to_string() } else { path };
    // serde_yaml prefixes its own messages with the path; say it once.
    let message = e.into_inner().to_string();
    let message = message.strip_prefix(&format!("{path}: ")).map_or_else(|| message.clone(), str::to_string);
    RulesError::Parse { path, message }
}

impl ClassificationRules {
    /// The built-in rules. Only fails if the embedded file is broken, which a unit test rules out.
    pub fn builtin() -> Result<Self, RulesError> {
        Self::from_yaml(BUILTIN_RULES_YAML)
    }

    /// Parse and validate a YAML rules document.
    pub fn from_yaml(text: &str) -> Result<Self, RulesError> {
        let rules: Self = serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(parse_error)?;
        rules.validate()?;
        Ok(rules)
    }

    /// Parse and validate a JSON rules document.
    pub fn from_json(text: &str) -> Result<Self, RulesError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let rules: Self = serde_path_to_error::deserialize(&mut de).map_err(parse_error)?;
        de.end().map_err(|e| invalid("(top level)", e.to_string()))?;
        rules.validate()?;
        Ok(rules)
    }

    /// Checks serde cannot express.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.version.trim().is_empty() {
            return Err(invalid("version", "must not be empty"));
        }
        check_share("match_share", self.match_share)?;
        let mut seen = Vec::new();
        for (i, rule) in self.detectors.iter().enumerate() {
            if seen.contains(&rule.detector) {
                return Err(invalid(format!("detectors[{i}].detector"), format!("{:?} is listed twice", rule.detector)));
            }
            seen.push(rule.detector);
            if let Some(share) = rule.min_share {
                check_share(&format!("detectors[{i}].min_share"), share)?;
            }
        }
        for (i, entry) in self.dictionary.iter().enumerate() {
            if entry.terms.is_empty() {
                return Err(invalid(format!("dictionary[{i}].terms"), "must list at least one term"));
            }
            for (j, term) in entry.terms.iter().enumerate() {
                if normalize_name(term).is_empty() {
                    return Err(invalid(format!("dictionary[{i}].terms[{j}]"), format!("{term:?} has no letters or digits")));
                }
            }
            for (j, term) in entry.except.iter().enumerate() {
                if normalize_name(term).is_empty() {
                    return Err(invalid(format!("dictionary[{i}].except[{j}]"), format!("{term:?} has no letters or digits")));
                }
            }
            if entry.reason.trim().is_empty() {
                return Err(invalid(format!("dictionary[{i}].reason"), "must say why"));
            }
        }
        for grade in Grade::ALL {
            self.masking.policy_for(grade).check().map_err(|m| invalid(format!("masking.{}", grade_key(grade)), m))?;
        }
        Ok(())
    }

    /// The rule for a detector, if it is in use.
    pub fn detector_rule(&self, kind: DetectorKind) -> Option<&DetectorRule> {
        self.detectors.iter().find(|r| r.detector == kind)
    }

    /// Share of samples the detector must match.
    pub fn share_for(&self, rule: &DetectorRule) -> f64 {
        rule.min_share.unwrap_or(self.match_share)
    }

    /// YAML text of these rules (e.g. to show or export a brain's rules).
    pub fn to_yaml(&self) -> Result<String, RulesError> {
        serde_yaml::to_string(self).map_err(|e| invalid("(top level)", e.to_string()))
    }
}

fn grade_key(grade: Grade) -> &'static str {
    match grade {
        Grade::Low => "low",
        Grade::Medium => "medium",
        Grade::High => "high",
    }
}

fn check_share(path: &str, share: f64) -> Result<(), RulesError> {
    if share.is_finite() && share > 0.0 && share <= 1.0 {
        Ok(())
    } else {
        Err(invalid(path, format!("must be a share in (0, 1], got {share}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::masking::MaskingPolicy;

    const MINIMAL: &str = "
version: test-1
default_grade: low
default_domain: production
detectors:
  - { detector: id_card, grade: high }
dictionary:
  - { terms: [配方, recipe], domain: rnd, grade: high, reason: core know-how }
masking:
  low: { policy: keep }
  medium: { policy: partial_mask }
  high: { policy: drop }
";

    #[test]
    fn builtin_rules_parse_and_validate() {
        let rules = ClassificationRules::builtin().unwrap();
        assert!(!rules.version.is_empty());
        assert_eq!(rules.match_share, 0.5);
        assert_eq!(rules.grade_scheme, GradeScheme::HighMediumLow);
        let grade_of = |k| rules.detector_rule(k).map(|r| r.grade);
        assert_eq!(grade_of(DetectorKind::IdCard), Some(Grade::High));
        assert_eq!(grade_of(DetectorKind::BankCard), Some(Grade::High));
        assert_eq!(grade_of(DetectorKind::Phone), Some(Grade::Medium));
        assert_eq!(grade_of(DetectorKind::Email), Some(Grade::Medium));
        assert_eq!(grade_of(DetectorKind::Address), Some(Grade::Medium));
        assert_eq!(grade_of(DetectorKind::Coordinates), Some(Grade::Medium));
        assert_eq!(grade_of(DetectorKind::Uscc), Some(Grade::Low));
        assert!(rules.dictionary.len() >= 25);
        // every domain is used by some entry
        for d in DataDomain::ALL {
            assert!(rules.dictionary.iter().any(|e| e.domain == Some(d)), "{d:?}");
        }
        assert_eq!(rules.masking.low, MaskingPolicy::Keep);
    }

    #[test]
    fn yaml_and_json_round_trip() {
        let rules = ClassificationRules::builtin().unwrap();
        let yaml = rules.to_yaml().unwrap();
        assert_eq!(ClassificationRules::from_yaml(&yaml).unwrap(), rules);
        let json = serde_json::to_string(&rules).unwrap();
        assert_eq!(ClassificationRules::from_json(&json).unwrap(), rules);
    }

    #[test]
    fn minimal_rules_take_defaults() {
        let rules = ClassificationRules::from_yaml(MINIMAL).unwrap();
        assert_eq!(rules.match_share, 0.5);
        assert_eq!(rules.grade_scheme, GradeScheme::HighMediumLow);
        assert_eq!(rules.detector_rule(DetectorKind::Phone), None);
        let id = rules.detector_rule(DetectorKind::IdCard).unwrap();
        assert_eq!(rules.share_for(id), 0.5);
    }

    #[test]
    fn miit_scheme_with_its_own_labels() {
        let text = MINIMAL.replace("version: test-1", "version: miit\ngrade_scheme: core_important_general").replace("grade: high", "grade: core");
        let rules = ClassificationRules::from_yaml(&text).unwrap();
        assert_eq!(rules.grade_scheme, GradeScheme::CoreImportantGeneral);
        assert_eq!(rules.dictionary[0].grade, Grade::High);
    }

    #[test]
    fn parse_errors_name_the_key() {
        let e = ClassificationRules::from_yaml(&MINIMAL.replace("domain: rnd, grade: high", "domain: rnd, grade: severe")).unwrap_err();
        assert_eq!(e.path(), "dictionary[0].grade", "{e}");
        assert!(e.to_string().contains("severe"), "{e}");

        let e = ClassificationRules::from_yaml(&MINIMAL.replace("{ detector: id_card", "{ detector: passport")).unwrap_err();
        assert_eq!(e.path(), "detectors[0].detector", "{e}");

        let e = ClassificationRules::from_yaml(&MINIMAL.replace("reason: core know-how", "reason: x, reasn: typo")).unwrap_err();
        assert_eq!(e.path(), "dictionary[0].reasn", "{e}");
        assert!(e.to_string().contains("reasn"), "{e}");

        let e = ClassificationRules::from_yaml(&MINIMAL.replace("version: test-1", "version: t\nmatch_shares: 0.4")).unwrap_err();
        assert!(e.to_string().contains("match_shares"), "{e}");

        let e = ClassificationRules::from_yaml(&MINIMAL.replace("version: test-1\n", "")).unwrap_err();
        assert!(e.to_string().contains("version"), "{e}");

        let e = ClassificationRules::from_yaml(&MINIMAL.replace("high: { policy: drop }", "high: { policy: shred }")).unwrap_err();
        assert_eq!(e.path(), "masking.high.policy", "{e}");
        assert_eq!(e.to_string().matches("masking.high.policy").count(), 1, "{e}");

        assert!(matches!(ClassificationRules::from_yaml("version: [").unwrap_err(), RulesError::Parse { .. }));
        let e = ClassificationRules::from_json("{\"version\": 3}").unwrap_err();
        assert_eq!(e.path(), "version", "{e}");
    }

    #[test]
    fn validation_errors_name_the_key() {
        let cases = [
            (MINIMAL.replace("version: test-1", "version: ' '"), "version"),
            (MINIMAL.replace("version: test-1", "version: t\nmatch_share: 1.5"), "match_share"),
            (MINIMAL.replace("version: test-1", "version: t\nmatch_share: 0"), "match_share"),
            (MINIMAL.replace("{ detector: id_card, grade: high }", "{ detector: id_card, grade: high }\n  - { detector: id_card, grade: low }"), "detectors[1].detector"),
            (MINIMAL.replace("{ detector: id_card, grade: high }", "{ detector: id_card, grade: high, min_share: -1 }"), "detectors[0].min_share"),
            (MINIMAL.replace("terms: [配方, recipe]", "terms: []"), "dictionary[0].terms"),
            (MINIMAL.replace("terms: [配方, recipe]", "terms: [配方, '__']"), "dictionary[0].terms[1]"),
            (MINIMAL.replace("reason: core know-how", "reason: ''"), "dictionary[0].reason"),
            (MINIMAL.replace("high: { policy: drop }", "high: { policy: generalize, significant_digits: 0 }"), "masking.high"),
        ];
        for (text, path) in cases {
            let e = ClassificationRules::from_yaml(&text).unwrap_err();
            assert!(matches!(e, RulesError::Invalid { .. }), "{e}");
            assert_eq!(e.path(), path, "{e}");
        }
    }
}
