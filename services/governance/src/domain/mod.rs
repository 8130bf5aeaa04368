//! Classification and grading of dataset fields (mission D3), and masking policies per grade.
//!
//! Pure domain logic: no I/O, no async, no clock. The service layer feeds it field names and sample
//! values and stores what it returns.
//!
//! - [`detectors`]: does a value look like an ID card number, USCC, phone, bank card, e-mail,
//!   precise address or coordinates (checksums and dates checked, not just shapes)?
//! - [`dictionary`]: field-name terms in Chinese and English.
//! - [`rules`]: the rules as data (built-in YAML, replaceable per brain).
//! - [`grading`]: field and dataset grades with explanations, overrides, re-classification.
//! - [`masking`]: what a read of each grade gets (keep, hash, partial mask, generalize, drop).
//! - [`taxonomy`]: grades, domains, label schemes and the proto conversions.

pub mod detectors;
pub mod dictionary;
pub mod grading;
pub mod masking;
pub mod rules;
pub mod taxonomy;

pub use detectors::DetectorKind;
pub use dictionary::DictionaryEntry;
pub use grading::{
    ClassificationError, DatasetClassification, Evidence, EvidenceSource, FieldChange, FieldClassification, FieldSamples, GradeOverride,
    OverrideHandling, OverrideOutcome, Reclassification, apply_override, classify_dataset, classify_field, classify_field_in, reclassify,
};
pub use masking::{MaskingPolicy, MaskingTable, Salt, mask_value};
pub use rules::{BUILTIN_RULES_YAML, ClassificationRules, DetectorRule, RulesError};
pub use taxonomy::{DataDomain, Grade, GradeScheme, Lang, grade_label};
