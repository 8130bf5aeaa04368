use super::mentions::{GradeCache, grade_with};
use super::*;
use brain_auth::{AuthMethod, KeyScope, Principal, Subject};
use brain_governance::domain::Salt;
use brain_governance::domain::detectors::{id_card_check_char, luhn_valid, uscc_check_char};
use brain_proto::governance::v1::catalog_service_server::{CatalogService, CatalogServiceServer};
use brain_proto::governance::v1::{Dataset, GetDatasetRequest};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use DetectorKind::*;

fn rules() -> ClassificationRules {
    ClassificationRules::builtin().unwrap()
}

fn make_id(body17: &str) -> String {
    format!("{body17}{}", id_card_check_char(body17).unwrap())
}

fn make_uscc(body17: &str) -> String {
    format!("{body17}{}", uscc_check_char(body17).unwrap())
}

/// `body` with the digit that makes it Luhn-valid.
fn make_card(body: &str) -> String {
    (0..10).map(|d| format!("{body}{d}")).find(|c| luhn_valid(c.as_bytes())).unwrap()
}

/// The same number with its last digit changed: Luhn-invalid.
fn break_luhn(card: &str) -> String {
    let last = card.as_bytes()[card.len() - 1] - b'0';
    format!("{}{}", &card[..card.len() - 1], (last + 1) % 10)
}

fn kinds(scan: &PromptScan) -> Vec<(DetectorKind, usize)> {
    scan.findings.iter().map(|f| (f.detector, f.count)).collect()
}

fn references(scan: &PromptScan) -> Vec<&str> {
    scan.datasets.iter().map(|d| d.reference.as_str()).collect()
}

/// Full-width form of ASCII letters and digits.
fn wide(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c }).collect()
}

const ID: &str = "11010519491231002X";
const USCC: &str = "91350100M000100Y43";
const PHONE: &str = "13812345678";
const EMAIL: &str = "zhang.san@example.com";
const ADDRESS: &str = "浙江省杭州市西湖区文三路90号";

fn card() -> String {
    make_card("622202100112345678")
}

fn mixed_prompt() -> String {
    let card = card();
    format!(
        "请帮我核对客户张三的资料：身份证号{ID}，手机 138 1234 5678，银行卡{card}（工商银行），邮箱{EMAIL}。\
         供应商统一社会信用代码{USCC}。Please summarise the customer record in English, price ¥1,299.00."
    )
}

// ---------------------------------------------------------------------------------------------
// Detection

#[test]
fn a_mixed_prompt_is_graded_by_its_most_sensitive_value() {
    let scan = scan(&mixed_prompt(), &rules());
    assert_eq!(
        scan.findings,
        vec![
            Finding { detector: IdCard, count: 1, grade: Grade::High },
            Finding { detector: Uscc, count: 1, grade: Grade::Low },
            Finding { detector: Phone, count: 1, grade: Grade::Medium },
            Finding { detector: BankCard, count: 1, grade: Grade::High },
            Finding { detector: Email, count: 1, grade: Grade::Medium },
        ]
    );
    assert_eq!(scan.grade, Grade::High);
    assert!(scan.datasets.is_empty());
}

#[test]
fn each_kind_alone_in_english_and_chinese_sentences() {
    let rules = rules();
    let id2 = make_id("33010619850315123");
    let cases: Vec<(String, DetectorKind, Grade)> = vec![
        (format!("My ID number is {id2}."), IdCard, Grade::High),
        (format!("身份证：{}。", id2.to_lowercase()), IdCard, Grade::High),
        ("legacy ID 330106850315123 on file".to_owned(), IdCard, Grade::High),
        ("call me at +86 138-1234-5678 tomorrow".to_owned(), Phone, Grade::Medium),
        (format!("电话(+86){PHONE}"), Phone, Grade::Medium),
        (format!("联系0086 {PHONE}"), Phone, Grade::Medium),
        (format!("手机{PHONE}，谢谢"), Phone, Grade::Medium),
        ("card 4111 1111 1111 1111 expires soon".to_owned(), BankCard, Grade::High),
        (format!("卡号：{}", card()), BankCard, Grade::High),
        (format!("write to <{EMAIL}>."), Email, Grade::Medium),
        (format!("邮箱{EMAIL}联系"), Email, Grade::Medium),
        (format!("请寄到{ADDRESS}，谢谢"), Address, Grade::Medium),
        ("坐标 30.2741,120.1551 附近".to_owned(), Coordinates, Grade::Medium),
        ("site at (31.2304，121.4737)".to_owned(), Coordinates, Grade::Medium),
        ("at -33.8688 151.2093 on the map".to_owned(), Coordinates, Grade::Medium),
        (format!("the supplier {} is registered", make_uscc("91330106MA27XK5Q1")), Uscc, Grade::Low),
    ];
    for (text, kind, grade) in cases {
        let scan = scan(&text, &rules);
        assert_eq!(kinds(&scan), vec![(kind, 1)], "{text}");
        assert_eq!(scan.grade, grade, "{text}");
    }
}

#[test]
fn bank_cards_must_pass_luhn() {
    let rules = rules();
    let valid = card();
    let invalid = break_luhn(&valid);
    assert_eq!(kinds(&scan(&format!("银行卡{valid}"), &rules)), vec![(BankCard, 1)]);
    assert_eq!(kinds(&scan(&format!("银行卡{invalid}"), &rules)), vec![]);
    let grouped = format!("{} {} {} {} {}", &valid[..4], &valid[4..8], &valid[8..12], &valid[12..16], &valid[16..]);
    assert_eq!(kinds(&scan(&format!("card no. {grouped}, thanks"), &rules)), vec![(BankCard, 1)]);
    assert_eq!(kinds(&scan("card 4111 1111 1111 1112", &rules)), vec![]);
    assert_eq!(scan(&format!("银行卡{invalid}"), &rules).grade, Grade::Low);
}

#[test]
fn full_width_digits_are_read_as_digits() {
    let rules = rules();
    let text = format!("手机：{}，身份证：{}", wide(PHONE), wide(ID));
    let scan = scan(&text, &rules);
    assert_eq!(kinds(&scan), vec![(IdCard, 1), (Phone, 1)]);
    assert_eq!(mask(&text, &rules, Grade::Medium), "手机：138****5678，身份证：[ID_CARD]");
}

#[test]
fn several_values_in_one_run_of_numbers() {
    let rules = rules();
    let id = make_id("33010619850315123"); // all digits
    let card = card();
    let text = format!("{id} {PHONE} {card}");
    assert_eq!(kinds(&scan(&text, &rules)), vec![(IdCard, 1), (Phone, 1), (BankCard, 1)]);
    assert_eq!(kinds(&scan(&format!("2024-03-15 {PHONE}"), &rules)), vec![(Phone, 1)], "a date before a phone");
    assert_eq!(kinds(&scan(&format!("数量 100 {PHONE}"), &rules)), vec![(Phone, 1)]);
    assert_eq!(kinds(&scan(&format!("mail {EMAIL}. Or {EMAIL}-{PHONE}"), &rules)), vec![(Phone, 1), (Email, 2)], "glued on with a dash");
    assert_eq!(scan(&format!("{PHONE}、{PHONE}、139 0000 1111"), &rules).findings, vec![Finding { detector: Phone, count: 3, grade: Grade::Medium }]);
}

#[test]
fn no_false_positives_on_orders_dates_prices_urls_and_numbers() {
    let rules = rules();
    // Luhn-valid order numbers that do not start like a card, and an 18-digit order number.
    let order16 = make_card("202403151234567");
    let order17 = make_card("1000000000001234");
    let text = format!(
        "订单号 202403151234567890 已于 2024-03-15 14:30 发货，运单号 SF1234567890123，支付流水 {order16}，\
         工单 {order17}。金额 ¥1,299.00（含税 $12.50），共 3 件，单价 3999元。\
         下单时间 2024/03/15、2024年3月15日、20240315、2024.03.15 08:30:00。\
         详情见 https://shop.example.com/orders/{order16}?ref=13800&date=2024-03-15 和 www.example.com/help/faq。\
         版本 v1.2.3，IP 192.168.1.100，准确率 0.9512，向量 [0.1234, 0.5678, 0.9012]，\
         array [30.2741, 120.1551, 5.0000]，比例 3/4，24/7 服务，分机 8001-2345，ISBN 978-7-111-54742-6。\
         order_13812345678 and id.13812345678 and v13812345678 are identifiers, 0.13812345678 is a fraction."
    );
    let scan = scan(&text, &rules);
    assert_eq!(scan.findings, vec![], "{text}");
    assert_eq!(scan.grade, Grade::Low);
    assert_eq!(references(&scan), Vec::<&str>::new());
    assert_eq!(mask(&text, &rules, Grade::Low), text);
}

#[test]
fn addresses_in_prose() {
    let rules = rules();
    let text = "收货地址：浙江省杭州市西湖区文三路90号上海市黄浦区南京东路100号，仓库在3号车间。Ship to 北京市海淀区中关村南大街5号1号楼1202室 please.";
    assert_eq!(kinds(&scan(text, &rules)), vec![(Address, 3)]);
    assert_eq!(
        mask(text, &rules, Grade::Medium),
        "收货地址：浙江省杭州市西湖区******上海市黄浦区********，仓库在3号车间。Ship to 北京市海淀区**************** please."
    );
    for text in ["浙江省杭州市西湖区", "华东区域销售额", "3号车间", "市场部的2号会议室", "上海市黄浦区南京东路"] {
        assert_eq!(scan(text, &rules).findings, vec![], "{text}");
    }
}

#[test]
fn rules_decide_which_detectors_run_and_their_grades() {
    let mut rules = rules();
    rules.detectors.retain(|r| r.detector != Phone);
    if let Some(email) = rules.detectors.iter_mut().find(|r| r.detector == Email) {
        email.grade = Grade::High;
    }
    let text = format!("手机{PHONE}，邮箱{EMAIL}");
    let scan = scan(&text, &rules);
    assert_eq!(scan.findings, vec![Finding { detector: Email, count: 1, grade: Grade::High }]);
    assert_eq!(mask(&text, &rules, Grade::Medium), format!("手机{PHONE}，邮箱[EMAIL]"), "a detector that is off masks nothing");
}

#[test]
fn findings_never_contain_the_values() {
    let scan = scan(&mixed_prompt(), &rules());
    let json = serde_json::to_string(&scan).unwrap();
    let debug = format!("{scan:?}");
    let card = card();
    for shown in [json.as_str(), debug.as_str()] {
        for value in [ID, USCC, PHONE, "138 1234 5678", EMAIL, "zhang", "example.com", card.as_str(), &card[card.len() - 4..], "1234", "5678"] {
            assert!(!shown.contains(value), "{value} in {shown}");
        }
        // no run of four digits at all: counts only
        assert!(!shown.as_bytes().windows(4).any(|w| w.iter().all(u8::is_ascii_digit)), "{shown}");
    }
}

// ---------------------------------------------------------------------------------------------
// Dataset references

#[test]
fn dataset_references_are_found_once_each() {
    let text = format!(
        "请用 acme-energy/daily_kwh 和 {USCC}/orders.v2 的数据，对比`zj-jxt/enterprise_list`（见acme-energy/daily_kwh）。\
         Then chart acme-energy/daily_kwh."
    );
    let scan = scan(&text, &rules());
    assert_eq!(references(&scan), vec!["acme-energy/daily_kwh", &format!("{USCC}/orders.v2"), "zj-jxt/enterprise_list"]);
    assert_eq!(scan.datasets[1].tenant(), USCC);
    assert_eq!(scan.datasets[1].dataset(), "orders.v2");
    assert!(scan.datasets.iter().all(|d| d.grade.is_none()));
    // the USCC inside a reference is the tenant's public id: counted like any other
    assert_eq!(kinds(&scan), vec![(Uscc, 1)]);
}

#[test]
fn urls_paths_dates_and_fractions_are_not_references() {
    for text in [
        "https://git.example.com/acme-energy/daily_kwh",
        "see git.example.com/acme-energy",
        "example.com/orders",
        "http://localhost:8080/orders",
        "localhost:8080/orders",
        "/var/lib/brain and src/bin/brain",
        "user@host/orders",
        "2024/03/15 与 03/15/2024",
        "比例 3/4，24/7",
        "a/b",
        "C:\\data/orders",
        "acme/orders/2024",
        "-x/y",
    ] {
        assert_eq!(references(&scan(text, &rules())), Vec::<&str>::new(), "{text}");
    }
}

#[test]
fn references_are_bounded() {
    let text: String = (0..200).map(|i| format!("acme/d{i} ")).collect();
    assert_eq!(scan(&text, &rules()).datasets.len(), MAX_MENTIONS);
}

#[test]
fn overall_grade_includes_graded_datasets() {
    let mut scan = scan("summarise acme/orders", &rules());
    assert_eq!(scan.overall_grade(), Grade::Low);
    scan.datasets[0].grade = Some(Grade::High);
    assert_eq!(scan.overall_grade(), Grade::High);
    assert_eq!(scan.grade, Grade::Low);
}

// ---------------------------------------------------------------------------------------------
// Masking

#[test]
fn masking_replaces_sensitive_values_and_nothing_else() {
    let rules = rules();
    let card = card();
    let text = mixed_prompt();
    let masked = mask(&text, &rules, Grade::Medium);
    let expected = text
        .replace(ID, "[ID_CARD]")
        .replace("138 1234 5678", "138****5678")
        .replace(&card, "[BANK_CARD]")
        .replace(EMAIL, "z********@example.com");
    assert_eq!(masked, expected, "high values hashed without a salt become placeholders, medium ones are partly masked, the rest is unchanged");
    for value in [ID, "1234 5678", card.as_str(), EMAIL, "zhang.san"] {
        assert!(!masked.contains(value), "{value} in {masked}");
    }
    assert!(masked.contains(USCC), "low data stays at a medium threshold");
    assert_eq!(scan(&masked, &rules).grade, Grade::Low, "nothing sensitive is left");
}

#[test]
fn masking_at_high_leaves_medium_values() {
    let rules = rules();
    let text = mixed_prompt();
    let masked = mask(&text, &rules, Grade::High);
    assert_eq!(masked, text.replace(ID, "[ID_CARD]").replace(&card(), "[BANK_CARD]"));
    assert_eq!(scan(&masked, &rules).grade, Grade::Medium);
}

#[test]
fn masking_with_the_brains_salt_hashes_consistently() {
    let mut rules = rules();
    rules.masking = rules.masking.with_salt(&Salt::new("brain-secret"));
    let masked = mask(&format!("{ID} / {}", wide(ID)), &rules, Grade::High);
    let (a, b) = masked.split_once(" / ").unwrap();
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(a, b, "the same number typed in full-width hashes the same");
    assert_ne!(a, mask(&make_id("33010619850315123"), &rules, Grade::High));
}

#[test]
fn masking_policies_from_the_rules() {
    let mut rules = rules();
    let text = format!("寄到{ADDRESS}，坐标30.274112,120.155123，手机{PHONE}");
    assert_eq!(mask(&text, &rules, Grade::Medium), "寄到浙江省杭州市西湖区******，坐标30.27****,120.15****，手机138****5678");
    rules.masking.medium = MaskingPolicy::Generalize { significant_digits: 1 };
    assert_eq!(mask(&text, &rules, Grade::Medium), "寄到浙江省杭州市西湖区，坐标30.27,120.16，手机138");
    rules.masking.medium = MaskingPolicy::Drop;
    // where the province's name starts is not known: the clause's lead-in goes with the address
    assert_eq!(mask(&text, &rules, Grade::Medium), "[ADDRESS]，坐标[COORDINATES]，手机[PHONE]");
    rules.masking.medium = MaskingPolicy::Keep;
    assert_eq!(mask(&text, &rules, Grade::Medium), text, "keep keeps");
    rules.masking.low = MaskingPolicy::Drop;
    assert_eq!(mask(&format!("USCC {USCC}."), &rules, Grade::Low), "USCC [USCC].");
}

#[test]
fn masking_text_without_findings_is_the_identity() {
    let rules = rules();
    for text in ["", "hello", "你好，世界！", "价格 12.50 元，2024-03-15", "emoji 🙂 and ＡＢＣ１２３ and \u{0}\u{7f}"] {
        assert_eq!(mask(text, &rules, Grade::Low), text);
        assert_eq!(scan(text, &rules).findings, vec![]);
    }
}

/// Random texts built from sensitive values, near misses and awkward characters: scanning never
/// panics, masking changes nothing when nothing was found, and what masking leaves has nothing
/// at or above the threshold.
#[test]
fn masking_leaves_nothing_behind_on_random_text() {
    let rules = rules();
    let card = card();
    let wide_phone = wide(PHONE);
    let pieces: Vec<&str> = vec![
        ID, USCC, PHONE, EMAIL, ADDRESS, &card, &wide_phone, "30.2741,120.1551", "138 1234 5678", "+86", " ", "-", ".", ",", "，", "。", "@", "/",
        "_", "1", "20240315", "0.5", "号", "市", "路", "区", "acme/orders", "https://x.cn/a", "🙂", "ｘ", "Ｘ", "\n", "(", "）", "(+86)", "0086",
        "4111 1111 1111 1111", "-33.8688", ";", "a", "Z",
    ];
    let mut seed: u64 = std::env::var("SCAN_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    for _ in 0..std::env::var("SCAN_FUZZ_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000) {
        let mut text = String::new();
        for _ in 0..(seed % 24) {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            text.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let scanned = scan(&text, &rules);
        let masked = mask(&text, &rules, Grade::Medium);
        if scanned.grade == Grade::Low {
            assert_eq!(masked, text);
        }
        assert_eq!(scan(&masked, &rules).grade, Grade::Low, "{text:?} → {masked:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Grading references through the catalog

fn user(tenant: &str) -> Principal {
    Principal {
        tenant: tenant.into(),
        subject: Subject::User { id: "u1".into(), name: "U".into() },
        roles: Default::default(),
        scope: None,
        method: AuthMethod::Password,
        session_id: None,
    }
}

fn mentions(references: &[&str]) -> Vec<DatasetMention> {
    references.iter().map(|r| DatasetMention { reference: (*r).to_owned(), grade: None }).collect()
}

fn grades_of(mentions: &[DatasetMention]) -> Vec<Option<Grade>> {
    mentions.iter().map(|m| m.grade).collect()
}

/// A catalog with a few datasets, recording what it was asked.
#[derive(Default)]
struct Catalog {
    asked: Mutex<Vec<String>>,
}

#[tonic::async_trait]
impl CatalogService for Catalog {
    async fn get_dataset(&self, request: tonic::Request<GetDatasetRequest>) -> Result<tonic::Response<Dataset>, tonic::Status> {
        let r = request.into_inner().r#ref.unwrap_or_default();
        let reference = format!("{}/{}", r.tenant_id, r.dataset);
        self.asked.lock().unwrap().push(reference.clone());
        let grade = match reference.as_str() {
            "t1/high" | "t2/high" => Grade::High.to_proto(),
            "t1/low" => Grade::Low.to_proto(),
            "t1/ungraded" => 0,
            "t1/broken" => return Err(tonic::Status::unavailable("database down")),
            r if r.starts_with("t1/many") => Grade::Medium.to_proto(),
            _ => return Err(tonic::Status::not_found("no such dataset")),
        };
        Ok(tonic::Response::new(Dataset { r#ref: Some(r), grade, ..Dataset::default() }))
    }
}

/// A governance catalog on a local port, and a channel to it.
async fn serve_catalog() -> (std::sync::Arc<Catalog>, brain_runtime::PeerChannel) {
    let catalog = std::sync::Arc::new(Catalog::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tonic::transport::Server::builder().add_service(CatalogServiceServer::from_arc(catalog.clone()));
    tokio::spawn(server.serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}")).unwrap().connect_lazy();
    (catalog, brain_runtime::PeerChannel::remote(channel))
}

#[tokio::test]
async fn mentions_are_graded_from_the_catalog_and_cached() {
    let (catalog, channel) = serve_catalog().await;
    let cache = GradeCache::default();
    let mut found = mentions(&["t1/high", "t1/low", "t1/ungraded", "t1/missing", "t1/broken", "t2/high"]);
    let lookups = grade_with(|| Some(channel.clone()), &cache, &user("t1"), &mut found).await;
    assert_eq!(grades_of(&found), vec![Some(Grade::High), Some(Grade::Low), Some(Grade::High), None, None, None]);
    assert_eq!(lookups, Lookups { graded: 3, unknown: 1, unreadable: 1, unchecked: 1 });
    let mut asked = catalog.asked.lock().unwrap().clone();
    asked.sort();
    assert_eq!(asked, vec!["t1/broken", "t1/high", "t1/low", "t1/missing", "t1/ungraded"], "another tenant's dataset is never looked up");

    // Answers are cached, failures are not.
    let again = grade_with(|| Some(channel.clone()), &cache, &user("t1"), &mut found).await;
    assert_eq!(again, lookups);
    assert_eq!(catalog.asked.lock().unwrap().len(), 6);
    assert_eq!(catalog.asked.lock().unwrap().last().map(String::as_str), Some("t1/broken"));
    assert_eq!(grades_of(&found)[..2], [Some(Grade::High), Some(Grade::Low)]);

    // An expired answer is asked again.
    cache.insert_at("t1/low", Some(Grade::Low), Instant::now() - Duration::from_secs(11));
    cache.insert_at("t1/missing", None, Instant::now() - Duration::from_secs(3));
    grade_with(|| Some(channel.clone()), &cache, &user("t1"), &mut found).await;
    assert_eq!(catalog.asked.lock().unwrap().len(), 9);
}

#[tokio::test]
async fn who_may_read_decides_what_is_looked_up() {
    let (catalog, channel) = serve_catalog().await;
    // A service reads every tenant's catalog.
    let mut found = mentions(&["t2/high"]);
    let lookups = grade_with(|| Some(channel.clone()), &GradeCache::default(), &Principal::service("portal-api"), &mut found).await;
    assert_eq!((lookups.graded, grades_of(&found)), (1, vec![Some(Grade::High)]));
    // An API key scoped to one dataset does not see the others, even in its own tenant.
    let mut key = user("t1");
    key.scope = Some(KeyScope { services: vec![], datasets: vec!["low".into()] });
    let mut found = mentions(&["t1/high", "t1/low"]);
    let lookups = grade_with(|| Some(channel.clone()), &GradeCache::default(), &key, &mut found).await;
    assert_eq!(grades_of(&found), vec![None, Some(Grade::Low)]);
    assert_eq!(lookups, Lookups { graded: 1, unknown: 0, unreadable: 1, unchecked: 0 });
    assert!(!catalog.asked.lock().unwrap().contains(&"t1/high".to_owned()));
}

#[tokio::test]
async fn lookups_are_bounded() {
    let (catalog, channel) = serve_catalog().await;
    let references: Vec<String> = (0..MAX_LOOKUPS + 4).map(|i| format!("t1/many{i}")).collect();
    let mut found = mentions(&references.iter().map(String::as_str).collect::<Vec<_>>());
    let lookups = grade_with(|| Some(channel.clone()), &GradeCache::default(), &user("t1"), &mut found).await;
    assert_eq!(lookups, Lookups { graded: MAX_LOOKUPS, unknown: 0, unreadable: 0, unchecked: 4 });
    assert_eq!(catalog.asked.lock().unwrap().len(), MAX_LOOKUPS);
    assert_eq!(found.iter().filter(|m| m.grade == Some(Grade::Medium)).count(), MAX_LOOKUPS);
}

#[tokio::test]
async fn without_governance_readable_mentions_stay_unchecked() {
    let mut found = mentions(&["t1/a", "t2/b"]);
    let lookups = grade_mentions(&brain_runtime::Peers::default(), &user("t1"), &mut found).await;
    assert_eq!(lookups, Lookups { graded: 0, unknown: 0, unreadable: 1, unchecked: 1 });
    assert_eq!(grades_of(&found), vec![None, None]);
    // an unreachable governance: unchecked, and nothing cached
    let dead = brain_runtime::PeerChannel::remote(tonic::transport::Endpoint::from_static("http://127.0.0.1:1").connect_lazy());
    let cache = GradeCache::default();
    let lookups = grade_with(|| Some(dead), &cache, &user("t1"), &mut found).await;
    assert_eq!(lookups.unchecked, 1);
    let lookups = grade_with(|| None, &cache, &user("t1"), &mut found).await;
    assert_eq!(lookups.unchecked, 1, "the failure was not cached");
}

// ---------------------------------------------------------------------------------------------
// Cost

/// A typical 4 KB prompt: mostly Chinese and English prose, some numbers, a few sensitive values.
fn typical_prompt() -> String {
    let paragraph = "请根据以下生产数据分析2024年第一季度的能耗趋势，并给出节能建议。\
        The line ran 3 shifts per day at 85.5% utilisation; energy use was 12,345 kWh on 2024-03-15. \
        订单号 202403151234567890，数量 1,200 件，单价 ¥35.50。参考数据集 acme-energy/daily_kwh。\n";
    let mut text = String::new();
    while text.len() < 4096 - 200 {
        text.push_str(paragraph);
    }
    text.push_str(&format!("联系人手机 {PHONE}，邮箱 {EMAIL}，身份证 {ID}。"));
    text
}

#[test]
fn a_typical_prompt_scans_as_expected() {
    let text = typical_prompt();
    assert!((3800..=4400).contains(&text.len()), "{}", text.len());
    let scan = scan(&text, &rules());
    assert_eq!(kinds(&scan), vec![(IdCard, 1), (Phone, 1), (Email, 1)]);
    assert_eq!(references(&scan), vec!["acme-energy/daily_kwh"]);
}

/// `cargo test --release -p brain-model-gateway scan::tests::cost -- --ignored --nocapture`
#[test]
#[ignore]
#[allow(clippy::print_stdout)]
fn cost_of_scanning_and_masking_a_4kb_prompt() {
    let rules = rules();
    let text = typical_prompt();
    let rounds = 2000;
    let time = |f: &dyn Fn()| {
        for _ in 0..100 {
            f();
        }
        let mut samples: Vec<f64> = (0..rounds)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        samples.sort_by(f64::total_cmp);
        (samples[rounds / 2], samples[rounds * 99 / 100])
    };
    let (scan_p50, scan_p99) = time(&|| {
        std::hint::black_box(scan(std::hint::black_box(&text), &rules));
    });
    let (mask_p50, mask_p99) = time(&|| {
        std::hint::black_box(mask(std::hint::black_box(&text), &rules, Grade::Medium));
    });
    println!("{} byte prompt: scan p50 {scan_p50:.1} µs p99 {scan_p99:.1} µs; mask p50 {mask_p50:.1} µs p99 {mask_p99:.1} µs", text.len());
}
