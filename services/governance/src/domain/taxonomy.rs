//! Grades, data domains and their labels.
//!
//! Our own small enums rather than the generated proto ones: they order (`Low < Medium < High`, so
//! "the highest grade" is `max`), they serialize as readable snake_case in rules files, and they have
//! no `Unspecified` case for domain logic to trip over. Conversions to and from the proto `i32`
//! values live here so the service layer is a one-liner.

use brain_proto::common::v1 as proto;
use serde::{Deserialize, Serialize};

/// Risk grade of a field or dataset. Three ranks; the label scheme decides what they are called.
///
/// Deserialization also accepts the MIIT 2022 labels (`general`, `important`, `core`) so a brain that
/// uses that scheme can write its rules in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    #[serde(alias = "general")]
    Low,
    #[serde(alias = "important")]
    Medium,
    #[serde(alias = "core")]
    High,
}

impl Grade {
    pub const ALL: [Grade; 3] = [Grade::Low, Grade::Medium, Grade::High];

    /// The stored and serialized name: `low`, `medium` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Low => "low",
            Grade::Medium => "medium",
            Grade::High => "high",
        }
    }

    /// The proto `brain.common.v1.Grade` value.
    pub fn to_proto(self) -> i32 {
        proto::Grade::from(self) as i32
    }

    /// From a proto `i32`; `None` for `GRADE_UNSPECIFIED` or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        proto::Grade::try_from(value).ok().and_then(|g| Grade::try_from(g).ok())
    }
}

impl From<Grade> for proto::Grade {
    fn from(grade: Grade) -> Self {
        match grade {
            Grade::Low => proto::Grade::Low,
            Grade::Medium => proto::Grade::Medium,
            Grade::High => proto::Grade::High,
        }
    }
}

/// The proto value was `UNSPECIFIED`; domain logic has no such case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0} is unspecified")]
pub struct Unspecified(pub &'static str);

impl TryFrom<proto::Grade> for Grade {
    type Error = Unspecified;
    fn try_from(grade: proto::Grade) -> Result<Self, Self::Error> {
        match grade {
            proto::Grade::Unspecified => Err(Unspecified("grade")),
            proto::Grade::Low => Ok(Grade::Low),
            proto::Grade::Medium => Ok(Grade::Medium),
            proto::Grade::High => Ok(Grade::High),
        }
    }
}

/// The five data domains of the national industrial data classification guide
/// (研发、生产、运维、管理、外部数据域).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataDomain {
    #[serde(alias = "r_and_d", alias = "research_and_development")]
    Rnd,
    Production,
    #[serde(alias = "o_and_m")]
    OperationMaintenance,
    Management,
    External,
}

impl DataDomain {
    pub const ALL: [DataDomain; 5] =
        [DataDomain::Rnd, DataDomain::Production, DataDomain::OperationMaintenance, DataDomain::Management, DataDomain::External];

    /// The stored and serialized name, e.g. `operation_maintenance`.
    pub fn as_str(self) -> &'static str {
        match self {
            DataDomain::Rnd => "rnd",
            DataDomain::Production => "production",
            DataDomain::OperationMaintenance => "operation_maintenance",
            DataDomain::Management => "management",
            DataDomain::External => "external",
        }
    }

    /// The inverse of [`DataDomain::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// The proto `brain.common.v1.DataDomain` value.
    pub fn to_proto(self) -> i32 {
        proto::DataDomain::from(self) as i32
    }

    /// From a proto `i32`; `None` for `DATA_DOMAIN_UNSPECIFIED` or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        proto::DataDomain::try_from(value).ok().and_then(|d| DataDomain::try_from(d).ok())
    }

    /// Human label, e.g. for explanations and the portal.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (DataDomain::Rnd, Lang::En) => "R&D",
            (DataDomain::Rnd, Lang::Zh) => "研发",
            (DataDomain::Production, Lang::En) => "production",
            (DataDomain::Production, Lang::Zh) => "生产",
            (DataDomain::OperationMaintenance, Lang::En) => "operation & maintenance",
            (DataDomain::OperationMaintenance, Lang::Zh) => "运维",
            (DataDomain::Management, Lang::En) => "management",
            (DataDomain::Management, Lang::Zh) => "管理",
            (DataDomain::External, Lang::En) => "external",
            (DataDomain::External, Lang::Zh) => "外部",
        }
    }
}

impl From<DataDomain> for proto::DataDomain {
    fn from(domain: DataDomain) -> Self {
        match domain {
            DataDomain::Rnd => proto::DataDomain::Rnd,
            DataDomain::Production => proto::DataDomain::Production,
            DataDomain::OperationMaintenance => proto::DataDomain::OperationMaintenance,
            DataDomain::Management => proto::DataDomain::Management,
            DataDomain::External => proto::DataDomain::External,
        }
    }
}

impl TryFrom<proto::DataDomain> for DataDomain {
    type Error = Unspecified;
    fn try_from(domain: proto::DataDomain) -> Result<Self, Self::Error> {
        match domain {
            proto::DataDomain::Unspecified => Err(Unspecified("data domain")),
            proto::DataDomain::Rnd => Ok(DataDomain::Rnd),
            proto::DataDomain::Production => Ok(DataDomain::Production),
            proto::DataDomain::OperationMaintenance => Ok(DataDomain::OperationMaintenance),
            proto::DataDomain::Management => Ok(DataDomain::Management),
            proto::DataDomain::External => Ok(DataDomain::External),
        }
    }
}

/// How a brain names its three grades (mission D3: either scheme, same three ranks).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GradeScheme {
    /// 工业数据分类分级指南（试行）: high / medium / low risk (高、中、低).
    #[default]
    HighMediumLow,
    /// 工业和信息化领域数据安全管理办法（试行）2022: core / important / general (核心、重要、一般数据).
    CoreImportantGeneral,
}

/// Label language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    En,
    Zh,
}

/// The label of `grade` in `scheme`, in English or Chinese.
pub fn grade_label(grade: Grade, scheme: GradeScheme, lang: Lang) -> &'static str {
    match (scheme, lang, grade) {
        (GradeScheme::HighMediumLow, Lang::En, Grade::High) => "high",
        (GradeScheme::HighMediumLow, Lang::En, Grade::Medium) => "medium",
        (GradeScheme::HighMediumLow, Lang::En, Grade::Low) => "low",
        (GradeScheme::HighMediumLow, Lang::Zh, Grade::High) => "高",
        (GradeScheme::HighMediumLow, Lang::Zh, Grade::Medium) => "中",
        (GradeScheme::HighMediumLow, Lang::Zh, Grade::Low) => "低",
        (GradeScheme::CoreImportantGeneral, Lang::En, Grade::High) => "core",
        (GradeScheme::CoreImportantGeneral, Lang::En, Grade::Medium) => "important",
        (GradeScheme::CoreImportantGeneral, Lang::En, Grade::Low) => "general",
        (GradeScheme::CoreImportantGeneral, Lang::Zh, Grade::High) => "核心数据",
        (GradeScheme::CoreImportantGeneral, Lang::Zh, Grade::Medium) => "重要数据",
        (GradeScheme::CoreImportantGeneral, Lang::Zh, Grade::Low) => "一般数据",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_order_low_to_high() {
        assert!(Grade::Low < Grade::Medium && Grade::Medium < Grade::High);
        assert_eq!([Grade::Medium, Grade::High, Grade::Low].into_iter().max(), Some(Grade::High));
    }

    #[test]
    fn proto_round_trips() {
        for g in Grade::ALL {
            assert_eq!(Grade::from_proto(g.to_proto()), Some(g));
        }
        assert_eq!(Grade::High.to_proto(), proto::Grade::High as i32);
        assert_eq!(Grade::Low.to_proto(), 1);
        assert_eq!(Grade::from_proto(0), None);
        assert_eq!(Grade::from_proto(99), None);
        for d in DataDomain::ALL {
            assert_eq!(DataDomain::from_proto(d.to_proto()), Some(d));
        }
        assert_eq!(DataDomain::OperationMaintenance.to_proto(), 3);
        assert_eq!(DataDomain::from_proto(0), None);
        assert_eq!(Grade::try_from(proto::Grade::Unspecified), Err(Unspecified("grade")));
    }

    #[test]
    fn serde_names_and_miit_aliases() {
        assert_eq!(serde_json::to_string(&Grade::High).unwrap(), "\"high\"");
        assert_eq!(serde_json::to_string(&DataDomain::OperationMaintenance).unwrap(), "\"operation_maintenance\"");
        assert_eq!(serde_json::from_str::<Grade>("\"core\"").unwrap(), Grade::High);
        assert_eq!(serde_json::from_str::<Grade>("\"important\"").unwrap(), Grade::Medium);
        assert_eq!(serde_json::from_str::<Grade>("\"general\"").unwrap(), Grade::Low);
        assert!(serde_json::from_str::<Grade>("\"critical\"").is_err());
        assert_eq!(serde_json::from_str::<GradeScheme>("\"core_important_general\"").unwrap(), GradeScheme::CoreImportantGeneral);
    }

    #[test]
    fn labels_in_both_schemes_and_languages() {
        assert_eq!(grade_label(Grade::High, GradeScheme::HighMediumLow, Lang::En), "high");
        assert_eq!(grade_label(Grade::High, GradeScheme::HighMediumLow, Lang::Zh), "高");
        assert_eq!(grade_label(Grade::High, GradeScheme::CoreImportantGeneral, Lang::En), "core");
        assert_eq!(grade_label(Grade::Medium, GradeScheme::CoreImportantGeneral, Lang::Zh), "重要数据");
        assert_eq!(grade_label(Grade::Low, GradeScheme::CoreImportantGeneral, Lang::Zh), "一般数据");
        assert_eq!(DataDomain::OperationMaintenance.label(Lang::Zh), "运维");
        assert_eq!(DataDomain::Rnd.label(Lang::En), "R&D");
    }
}
