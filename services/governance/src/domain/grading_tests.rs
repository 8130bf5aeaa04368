//! Grading scenarios with realistic industrial and personal data.

use super::*;
use crate::domain::detectors::tests::{make_card, make_id, make_uscc};
use crate::domain::masking::{MaskingPolicy, Salt};
use crate::domain::rules::ClassificationRules;
use serde_json::{Value, json};

fn rules() -> ClassificationRules {
    ClassificationRules::builtin().unwrap()
}

/// `n` valid 18-digit ID numbers from several regions and birth dates.
fn ids(n: usize) -> Vec<Value> {
    let areas = ["330106", "320584", "440304", "110105", "510107", "370212"];
    (0..n)
        .map(|i| {
            let body = format!("{}{}{:02}{:02}{:03}", areas[i % areas.len()], 1960 + (i * 7) % 45, 1 + i % 12, 1 + (i * 5) % 28, 100 + i);
            Value::String(make_id(&body))
        })
        .collect()
}

fn phones(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!(format!("13{}{:08}", 5 + i % 5, 31_415_926 + i * 7))).collect()
}

fn usccs(n: usize) -> Vec<Value> {
    (0..n).map(|i| json!(make_uscc(&format!("91320509MA{:03}XK5{}", i, i % 10)))).collect()
}

fn field<'a>(c: &'a DatasetClassification, name: &str) -> &'a FieldClassification {
    c.field(name).unwrap()
}

#[test]
fn id_card_column_is_high_with_an_explanation() {
    let mut samples = ids(18);
    let good = make_id("33010619850315123");
    let wrong = if good.ends_with('0') { '1' } else { '0' };
    samples.push(json!(format!("{}{wrong}", &good[..17]))); // checksum off
    samples.push(json!("330106198502301236")); // 30 February
    let f = classify_field("holder", &samples, &rules());
    assert_eq!(f.grade, Grade::High);
    assert_eq!(f.automatic_grade, Grade::High);
    assert_eq!(f.kind, Some(DetectorKind::IdCard));
    assert!(
        f.explanation.contains("values look like resident ID card numbers (18 of 20 samples pass the GB 11643 checksum) → high"),
        "{}",
        f.explanation
    );
    assert_eq!(f.matched.len(), 1);
    assert_eq!(f.matched[0].source, EvidenceSource::Values { detector: DetectorKind::IdCard, matched: 18, sampled: 20 });
    assert_eq!(f.domain, DataDomain::Production); // rules default, nothing else says otherwise
    assert!(f.explanation.ends_with("Domain: production (rules default)."), "{}", f.explanation);
}

#[test]
fn name_and_values_both_count_and_the_highest_wins() {
    let f = classify_field("身份证号", &ids(10), &rules());
    assert_eq!(f.grade, Grade::High);
    assert_eq!(f.matched.len(), 2);
    assert!(matches!(&f.matched[0].source, EvidenceSource::FieldName { term } if term == "身份证"));
    assert!(f.explanation.starts_with("field name \"身份证号\" contains \"身份证\" → high"), "{}", f.explanation);

    // A "contact phone" column that actually holds ID numbers is graded by its values.
    let f = classify_field("联系电话", &ids(10), &rules());
    assert_eq!(f.grade, Grade::High);
    assert_eq!(f.kind, Some(DetectorKind::IdCard));
    assert_eq!(f.matched[0].grade, Grade::High);
    assert_eq!(f.matched[1].grade, Grade::Medium);
    assert!(f.explanation.starts_with("values look like resident ID card numbers"), "{}", f.explanation);

    // Bank cards in a free-text-named column.
    let cards: Vec<Value> = (0..6).map(|i| json!(make_card(&format!("62220210011234{i:04}")))).collect();
    let f = classify_field("remark", &cards, &rules());
    assert_eq!(f.grade, Grade::High);
    assert!(f.explanation.contains("(6 of 6 samples pass the Luhn check) → high"), "{}", f.explanation);
}

#[test]
fn one_stray_value_does_not_grade_a_column() {
    let mut samples: Vec<Value> = ["涤纶长丝", "锦纶", "棉纱 40S", "粘胶短纤", "氨纶", "真丝", "麻", "再生涤纶", "羊毛"].iter().map(|s| json!(s)).collect();
    samples.push(ids(1)[0].clone());
    let f = classify_field("material", &samples, &rules());
    assert_eq!(f.grade, Grade::Low);
    assert!(f.matched.is_empty());
    assert!(f.explanation.contains("no dictionary term or value detector matched → low (rules default)"), "{}", f.explanation);
    assert!(f.explanation.contains("not counted: 1 of 10 samples look like resident ID card numbers, under the 50% needed"), "{}", f.explanation);
}

#[test]
fn threshold_is_inclusive_and_configurable() {
    let mut half = phones(5);
    half.extend(["无", "n/a", "待补充", "—", "office"].iter().map(|s| json!(s)));
    let f = classify_field("contact", &half, &rules());
    assert_eq!(f.grade, Grade::Medium, "{}", f.explanation);
    assert!(f.explanation.contains("(5 of 10 samples are 11-digit 1[3-9] numbers) → medium"), "{}", f.explanation);

    let mut under = phones(4);
    under.extend(["无", "n/a", "待补充", "—", "office", "fax"].iter().map(|s| json!(s)));
    assert_eq!(classify_field("contact", &under, &rules()).grade, Grade::Low);

    let mut strict = rules();
    strict.match_share = 0.9;
    assert_eq!(classify_field("contact", &half, &strict).grade, Grade::Low);
    // a per-detector share beats the global one
    strict.detectors.iter_mut().find(|r| r.detector == DetectorKind::Phone).unwrap().min_share = Some(0.3);
    assert_eq!(classify_field("contact", &under, &strict).grade, Grade::Medium);
}

#[test]
fn blanks_and_nulls_are_not_samples() {
    let mut samples = ids(3);
    samples.extend([Value::Null, json!(""), json!("   "), Value::Null]);
    let f = classify_field("holder", &samples, &rules());
    assert_eq!(f.matched[0].source, EvidenceSource::Values { detector: DetectorKind::IdCard, matched: 3, sampled: 3 });
    let f = classify_field("holder", &[Value::Null, json!("")], &rules());
    assert_eq!(f.grade, Grade::Low);
}

#[test]
fn order_numbers_are_not_id_cards() {
    // 18-digit order numbers: date + time + sequence, the kind an ERP exports.
    let orders: Vec<Value> = (0..40).map(|i| json!(format!("20240315{:06}{:04}", 80_000 + i * 37, i))).collect();
    let f = classify_field("order_no", &orders, &rules());
    assert!(!f.matched.iter().any(|e| e.kind == Some(DetectorKind::IdCard)), "{}", f.explanation);
    assert_eq!(f.grade, Grade::Low, "{}", f.explanation);
    // ... and neither are they bank cards: about one in ten passes Luhn by chance, far below the share.
    assert!(!f.matched.iter().any(|e| e.kind == Some(DetectorKind::BankCard)));
}

#[test]
fn uscc_is_low_public_registration_data() {
    let f = classify_field("统一社会信用代码", &usccs(8), &rules());
    assert_eq!(f.grade, Grade::Low);
    assert_eq!(f.kind, Some(DetectorKind::Uscc));
    assert!(f.explanation.contains("(8 of 8 samples pass the GB 32100 checksum) → low"), "{}", f.explanation);
    // invalid check characters are not counted
    let broken: Vec<Value> = usccs(8)
        .into_iter()
        .map(|v| {
            let s = v.as_str().unwrap().to_string();
            let last = if s.ends_with('A') { 'B' } else { 'A' };
            json!(format!("{}{last}", &s[..17]))
        })
        .collect();
    let f = classify_field("enterprise", &broken, &rules());
    assert!(f.matched.is_empty(), "{}", f.explanation);
}

#[test]
fn dictionary_names_in_chinese_and_english() {
    let r = rules();
    let cases: &[(&str, Grade, Option<DataDomain>)] = &[
        ("工艺参数", Grade::High, Some(DataDomain::Production)),
        ("process_params", Grade::High, Some(DataDomain::Production)),
        ("ProcessParameters", Grade::High, Some(DataDomain::Production)),
        ("染色配方", Grade::High, Some(DataDomain::Rnd)),
        ("dye_formula", Grade::High, Some(DataDomain::Rnd)),
        ("Recipe-ID", Grade::High, Some(DataDomain::Rnd)),
        ("客户名单", Grade::Medium, Some(DataDomain::Management)),
        ("customer_list", Grade::Medium, Some(DataDomain::Management)),
        ("单位成本", Grade::Medium, Some(DataDomain::Management)),
        ("unitCost", Grade::Medium, Some(DataDomain::Management)),
        ("salary", Grade::Medium, Some(DataDomain::Management)),
        ("月工资", Grade::Medium, Some(DataDomain::Management)),
        ("薪酬总额", Grade::Medium, Some(DataDomain::Management)),
        ("price_per_meter", Grade::Medium, Some(DataDomain::Management)),
        ("出厂价格", Grade::Medium, Some(DataDomain::Management)),
        ("日产量", Grade::Medium, Some(DataDomain::Production)),
        ("daily_output_m", Grade::Medium, Some(DataDomain::Production)),
        ("能耗_kwh", Grade::Low, Some(DataDomain::Production)),
        ("energy_use", Grade::Low, Some(DataDomain::Production)),
        ("故障代码", Grade::Low, Some(DataDomain::OperationMaintenance)),
        ("third_party_source", Grade::Low, Some(DataDomain::External)),
        ("银行卡号", Grade::High, None),
        ("手机", Grade::Medium, None),
        ("E-Mail", Grade::Medium, None),
    ];
    for (name, grade, domain) in cases {
        let f = classify_field_in(name, &[], Some(DataDomain::Management), &r);
        assert_eq!(f.grade, *grade, "{name}: {}", f.explanation);
        let expected_domain = domain.unwrap_or(DataDomain::Management); // personal data takes the dataset's domain
        assert_eq!(f.domain, expected_domain, "{name}: {}", f.explanation);
    }
    // substrings that only look like terms
    for name in ["costume_style", "automobile_model", "sewage_flow", "ip_address", "batch_id"] {
        let f = classify_field_in(name, &[], None, &r);
        assert!(f.matched.is_empty(), "{name}: {}", f.explanation);
        assert_eq!(f.grade, Grade::Low);
    }
    // electrical telemetry is not production output
    assert_eq!(classify_field("output_voltage", &[], &r).grade, Grade::Low);
    // everyday industrial field names stay unmatched
    for name in [
        "record_id", "timestamp", "device_id", "status", "batch_no", "product_name", "model", "shift", "workshop", "产品型号", "批次号", "班次",
        "车间", "description", "quantity", "weight", "color", "fabric_type", "yarn_count", "loom_speed", "order_qty", "delivery_date",
        "total_amount", "tax_rate", "catalog", "technology", "headphone_type", "yield_rate", "order_id",
    ] {
        let f = classify_field(name, &[], &r);
        assert!(f.matched.is_empty(), "{name}: {}", f.explanation);
    }
    // an e-mail address field is e-mail, not a street address
    let f = classify_field("email_address", &[], &r);
    assert_eq!(f.kind, Some(DetectorKind::Email));
    assert_eq!(f.matched.len(), 1);
}

#[test]
fn domain_precedence() {
    let r = rules();
    // term domain beats dataset domain
    assert_eq!(classify_field_in("工艺参数", &[], Some(DataDomain::Management), &r).domain, DataDomain::Production);
    // the highest-grade term decides: 配方 (R&D, high) over 成本 (management, medium)
    let f = classify_field_in("配方成本", &[], None, &r);
    assert_eq!((f.grade, f.domain), (Grade::High, DataDomain::Rnd));
    assert!(f.explanation.contains("Domain: R&D (from the field-name term \"配方\")"), "{}", f.explanation);
    // a detector rule's domain beats the dataset's
    let mut r2 = r.clone();
    r2.detectors.iter_mut().find(|d| d.detector == DetectorKind::IdCard).unwrap().domain = Some(DataDomain::Management);
    let f = classify_field_in("holder", &ids(4), Some(DataDomain::Production), &r2);
    assert_eq!(f.domain, DataDomain::Management);
    assert!(f.explanation.contains("from the resident ID card numbers detector"), "{}", f.explanation);
    // then the dataset's domain, then the rules default
    assert_eq!(classify_field_in("holder", &ids(4), Some(DataDomain::OperationMaintenance), &r).domain, DataDomain::OperationMaintenance);
    assert_eq!(classify_field_in("holder", &ids(4), None, &r).domain, r.default_domain);
}

#[test]
fn coordinates_by_pair_or_by_named_axis() {
    let r = rules();
    let lat: Vec<Value> = [30.274112, 30.281001, 31.230416, 29.998877].iter().map(|x| json!(x)).collect();
    let f = classify_field("lat", &lat, &r);
    assert_eq!((f.grade, f.kind), (Grade::Medium, Some(DetectorKind::Coordinates)), "{}", f.explanation);
    // the same numbers under a neutral name are just numbers
    assert_eq!(classify_field("reading", &lat, &r).grade, Grade::Low);
    // two decimals is a city, not a site
    let coarse: Vec<Value> = [30.27, 30.28, 31.23].iter().map(|x| json!(x)).collect();
    assert_eq!(classify_field("gps_lat", &coarse, &r).grade, Grade::Low);
    // pairs in strings or arrays, whatever the name
    let pairs = vec![json!("30.274112,120.155123"), json!("31.230416，121.473701"), json!([120.155123, 30.274112])];
    let f = classify_field("site", &pairs, &r);
    assert_eq!(f.grade, Grade::Medium, "{}", f.explanation);
    assert!(f.explanation.contains("(3 of 3 samples have at least 4 decimals in range)"), "{}", f.explanation);
    // 经度 announces longitude
    let lng: Vec<Value> = [120.155123, 121.473701].iter().map(|x| json!(x)).collect();
    assert_eq!(classify_field("经度", &lng, &r).kind, Some(DetectorKind::Coordinates));
}

#[test]
fn addresses_emails_and_numeric_phones() {
    let r = rules();
    let addresses = vec![json!("江苏省苏州市吴江区盛泽镇舜湖西路88号"), json!("浙江省绍兴市柯桥区柯桥街道金柯桥大道1号"), json!("广东省广州市海珠区新港东路1000号")];
    let f = classify_field("注册地", &addresses, &r);
    assert_eq!((f.grade, f.kind), (Grade::Medium, Some(DetectorKind::Address)), "{}", f.explanation);
    let emails = vec![json!("sales@shengze-silk.com.cn"), json!("li.na@textile.cn"), json!("不详")];
    let f = classify_field("contact", &emails, &r);
    assert_eq!((f.grade, f.kind), (Grade::Medium, Some(DetectorKind::Email)), "{}", f.explanation);
    let numeric = vec![json!(13812345678u64), json!(15987654321u64)];
    assert_eq!(classify_field("contact", &numeric, &r).kind, Some(DetectorKind::Phone));
}

fn textile_dataset() -> Vec<FieldSamples> {
    vec![
        FieldSamples::new("enterprise_uscc", usccs(6)),
        FieldSamples::new("line_id", (0..6).map(|i| json!(format!("L{i:02}"))).collect()),
        FieldSamples::new("dye_recipe", (0..6).map(|i| json!(format!("活性红 {}% / 元明粉 {} g/L", 2 + i, 40 + i))).collect()),
        FieldSamples::new("operator_id_card", ids(6)),
        FieldSamples::new("operator_phone", phones(6)),
        FieldSamples::new("energy_kwh", (0..6).map(|i| json!(1250.5 + f64::from(i))).collect()),
    ]
}

#[test]
fn dataset_grade_is_the_highest_field_grade() {
    let c = classify_dataset(&textile_dataset(), Some(DataDomain::Production), &rules());
    assert_eq!(c.grade, Grade::High);
    assert_eq!(c.graded_by.as_deref(), Some("dye_recipe"));
    assert!(c.explanation.starts_with("highest field grade is high, from field \"dye_recipe\"; also high: \"operator_id_card\""), "{}", c.explanation);
    assert_eq!(c.rules_version, rules().version);
    assert_eq!(field(&c, "enterprise_uscc").grade, Grade::Low);
    assert_eq!(field(&c, "line_id").grade, Grade::Low);
    assert_eq!(field(&c, "operator_phone").grade, Grade::Medium);
    assert_eq!(field(&c, "energy_kwh").domain, DataDomain::Production);

    let proto = c.to_field_grades();
    assert_eq!(proto.len(), 6);
    assert_eq!(proto[3].field, "operator_id_card");
    assert_eq!(proto[3].grade, brain_proto::common::v1::Grade::High as i32);
    assert_eq!(proto[2].domain, brain_proto::common::v1::DataDomain::Rnd as i32);

    let only_low = classify_dataset(&textile_dataset()[..2], None, &rules());
    assert_eq!(only_low.grade, Grade::Low);
    assert_eq!(only_low.graded_by.as_deref(), Some("enterprise_uscc"));

    let empty = classify_dataset(&[], None, &rules());
    assert_eq!((empty.grade, empty.graded_by.clone()), (Grade::Low, None));
    assert_eq!(empty.explanation, "no fields → low (rules default)");
}

#[test]
fn overrides_are_recorded_and_explained() {
    let mut c = classify_dataset(&textile_dataset(), None, &rules());
    let record = apply_override(&mut c, "dye_recipe", Grade::Medium, "recipe is a published standard shade card", "alice@textile-brain").unwrap();
    assert_eq!(record, GradeOverride { previous: Grade::High, grade: Grade::Medium, reason: "recipe is a published standard shade card".into(), actor: "alice@textile-brain".into() });
    let f = field(&c, "dye_recipe");
    assert_eq!((f.grade, f.automatic_grade), (Grade::Medium, Grade::High));
    assert_eq!(f.manual_override.as_ref(), Some(&record));
    assert!(f.explanation.starts_with("overridden to medium by alice@textile-brain (was high): recipe is a published standard shade card. Automatic classification: field name \"dye_recipe\" contains \"recipe\" → high"), "{}", f.explanation);
    // the ID-card field still keeps the dataset high
    assert_eq!(c.grade, Grade::High);
    assert_eq!(c.graded_by.as_deref(), Some("operator_id_card"));
    assert!(c.explanation.contains("manual overrides"));

    // override the last high field down: the dataset follows
    apply_override(&mut c, "operator_id_card", Grade::Medium, "numbers are synthetic test data", "bob").unwrap();
    assert_eq!(c.grade, Grade::Medium);
    // override again: previous is the overridden grade
    let again = apply_override(&mut c, "dye_recipe", Grade::High, "shade card withdrawn", "carol").unwrap();
    assert_eq!(again.previous, Grade::Medium);
    assert_eq!(c.grade, Grade::High);
    assert_eq!(c.graded_by.as_deref(), Some("dye_recipe"));

    assert_eq!(apply_override(&mut c, "nope", Grade::Low, "r", "a"), Err(ClassificationError::UnknownField("nope".into())));
    assert_eq!(apply_override(&mut c, "line_id", Grade::Low, "  ", "a"), Err(ClassificationError::MissingReason));
    assert_eq!(apply_override(&mut c, "line_id", Grade::Low, "r", ""), Err(ClassificationError::MissingActor));
}

#[test]
fn miit_scheme_labels_explanations() {
    let mut r = rules();
    r.grade_scheme = GradeScheme::CoreImportantGeneral;
    let f = classify_field("holder", &ids(5), &r);
    assert!(f.explanation.contains("GB 11643 checksum) → core"), "{}", f.explanation);
    let c = classify_dataset(&[FieldSamples::new("operator_phone", phones(3))], None, &r);
    assert_eq!(c.explanation, "highest field grade is important, from field \"operator_phone\"");
    assert_eq!(c.grade_scheme, GradeScheme::CoreImportantGeneral);
}

/// New rules: phones become high, recipes are no longer in the dictionary.
fn stricter_rules() -> ClassificationRules {
    let mut r = rules();
    r.version = "brain-textile-2".into();
    r.detectors.iter_mut().find(|d| d.detector == DetectorKind::Phone).unwrap().grade = Grade::High;
    r.dictionary.retain(|e| !e.terms.iter().any(|t| t == "recipe"));
    r
}

#[test]
fn reclassification_reports_changes_and_keeps_overrides() {
    let samples = textile_dataset();
    let mut before = classify_dataset(&samples, Some(DataDomain::Production), &rules());
    apply_override(&mut before, "operator_id_card", Grade::Medium, "synthetic test data", "bob").unwrap();

    let re = reclassify(&before, &samples, &stricter_rules(), OverrideHandling::Keep);
    assert_eq!(re.rules_version_before, rules().version);
    assert_eq!(re.classification.rules_version, "brain-textile-2");
    assert_eq!(re.grade_before, Grade::High);
    let mut changed = re.fields_with_new_grade();
    changed.sort();
    assert_eq!(changed, vec!["dye_recipe", "operator_phone"]);
    let phone = re.changes.iter().find(|c| c.field == "operator_phone").unwrap();
    assert_eq!((phone.grade_before, phone.grade_after), (Some(Grade::Medium), Some(Grade::High)));
    let recipe = re.changes.iter().find(|c| c.field == "dye_recipe").unwrap();
    assert_eq!((recipe.grade_before, recipe.grade_after), (Some(Grade::High), Some(Grade::Low)));
    assert_eq!(recipe.domain_before, Some(DataDomain::Rnd));
    assert_eq!(recipe.domain_after, Some(DataDomain::Production));
    // the override survives and is not reported as a change
    let id = field(&re.classification, "operator_id_card");
    assert_eq!((id.grade, id.automatic_grade), (Grade::Medium, Grade::High));
    assert!(id.explanation.starts_with("overridden to medium by bob"), "{}", id.explanation);
    assert!(!re.changes.iter().any(|c| c.field == "operator_id_card"));
    assert_eq!(re.classification.grade, Grade::High);
    assert_eq!(re.classification.graded_by.as_deref(), Some("operator_phone"));

    // same rules again: nothing changes
    let same = reclassify(&re.classification, &samples, &stricter_rules(), OverrideHandling::Keep);
    assert!(same.changes.is_empty(), "{:?}", same.changes);
    assert_eq!(same.classification, re.classification);
}

#[test]
fn reclassification_can_discard_overrides() {
    let samples = textile_dataset();
    let mut before = classify_dataset(&samples, None, &rules());
    apply_override(&mut before, "operator_id_card", Grade::Medium, "synthetic test data", "bob").unwrap();
    let re = reclassify(&before, &samples, &rules(), OverrideHandling::Discard);
    let change = re.changes.iter().find(|c| c.field == "operator_id_card").unwrap();
    assert_eq!(change.manual_override, OverrideOutcome::Discarded);
    assert_eq!((change.grade_before, change.grade_after), (Some(Grade::Medium), Some(Grade::High)));
    let id = field(&re.classification, "operator_id_card");
    assert_eq!(id.manual_override, None);
    assert_eq!(id.explanation, id.automatic_explanation);
    assert_eq!(re.changes.len(), 1);
}

#[test]
fn reclassification_keeps_an_override_whose_automatic_grade_moved() {
    let samples = textile_dataset();
    let mut before = classify_dataset(&samples, None, &rules());
    apply_override(&mut before, "operator_phone", Grade::Low, "company switchboard numbers", "alice").unwrap();
    let re = reclassify(&before, &samples, &stricter_rules(), OverrideHandling::Keep);
    let phone = re.changes.iter().find(|c| c.field == "operator_phone").unwrap();
    assert_eq!(phone.manual_override, OverrideOutcome::Kept);
    assert!(!phone.grade_changed());
    assert_eq!((phone.automatic_before, phone.automatic_after), (Some(Grade::Medium), Some(Grade::High)));
    assert_eq!(field(&re.classification, "operator_phone").grade, Grade::Low);
}

#[test]
fn reclassification_reports_added_and_removed_fields() {
    let samples = textile_dataset();
    let before = classify_dataset(&samples, None, &rules());
    let mut next = samples[1..].to_vec(); // enterprise_uscc dropped
    next.push(FieldSamples::new("bank_card_no", (0..3).map(|i| json!(make_card(&format!("621700000012345{i}")))).collect()));
    let re = reclassify(&before, &next, &rules(), OverrideHandling::Keep);
    let removed = re.changes.iter().find(|c| c.field == "enterprise_uscc").unwrap();
    assert_eq!((removed.grade_before, removed.grade_after), (Some(Grade::Low), None));
    let added = re.changes.iter().find(|c| c.field == "bank_card_no").unwrap();
    assert_eq!((added.grade_before, added.grade_after), (None, Some(Grade::High)));
    assert_eq!(re.changes.len(), 2);
}

#[test]
fn masking_follows_the_grade_and_kind() {
    let r = rules();
    let table = r.masking.with_salt(&Salt::new("textile-brain-salt"));
    let c = classify_dataset(&textile_dataset(), None, &r);
    let id = field(&c, "operator_id_card");
    let phone = field(&c, "operator_phone");
    let uscc = field(&c, "enterprise_uscc");
    let id_value = ids(1)[0].clone();
    let hashed = table.mask(&id_value, id.grade, id.kind).unwrap();
    assert_eq!(hashed.as_str().unwrap().len(), 64);
    assert_eq!(table.mask(&json!("13512345678"), phone.grade, phone.kind), Some(json!("135****5678")));
    let code = usccs(1)[0].clone();
    assert_eq!(table.mask(&code, uscc.grade, uscc.kind), Some(code.clone()));
    // without the brain's salt, high-grade values are dropped rather than weakly hashed
    assert_eq!(r.masking.mask(&id_value, Grade::High, id.kind), None);
    assert_eq!(r.masking.high, MaskingPolicy::Hash { salt: Salt::default() });
}

#[test]
fn classifications_serialize() {
    let mut c = classify_dataset(&textile_dataset(), Some(DataDomain::Production), &rules());
    apply_override(&mut c, "line_id", Grade::Medium, "line layout is confidential", "alice").unwrap();
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["fields"][3]["matched"][1]["source"]["source"], "values");
    assert_eq!(json["fields"][3]["matched"][1]["source"]["detector"], "id_card");
    assert_eq!(json["fields"][1]["manual_override"]["actor"], "alice");
    assert_eq!(json["dataset_domain"], "production");
    let back: DatasetClassification = serde_json::from_value(json).unwrap();
    assert_eq!(back, c);
}

