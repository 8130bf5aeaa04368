//! A textile and apparel cluster (纺织服装产业集群), generated deterministically from a seed:
//! enterprises with valid unified social credit codes (GB 32100-2015), their production lines
//! (weaving, dyeing, garment) and daily facts — output, energy use, orders, quality checks.
//!
//! Every value is a pure function of (seed, entity, day), so the same day always yields the
//! same record under the same id, whatever window of days is generated: re-running creates
//! no duplicates downstream. Names and codes are synthetic (valid check characters, random
//! bodies); any resemblance to a registered entity is coincidental.

use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value, json};
use std::collections::HashSet;

// ---------------------------------------------------------------------------------------
// Unified social credit codes (统一社会信用代码)

/// The 31 characters of GB 32100-2015 (no I, O, S, V, Z), in the order of their values.
pub const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/// GB 11714-1997 weights of the 8 body characters of the organization code.
const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// The check character (18th) of a code's first 17 characters: 31 − (Σ value·weight mod 31),
/// where 31 becomes 0. `None` when a character is outside the charset or the length is wrong.
pub fn uscc_check(first17: &str) -> Option<char> {
    let bytes = first17.as_bytes();
    if bytes.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&c, w) in bytes.iter().zip(USCC_WEIGHTS) {
        sum += uscc_value(c)? * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(char::from(USCC_CHARSET[check as usize]))
}

/// Whether an 18-character code has the right check character.
pub fn uscc_valid(code: &str) -> bool {
    code.len() == 18 && code.is_char_boundary(17) && uscc_check(&code[..17]).is_some_and(|c| code.ends_with(c))
}

/// The check character of an organization code's 8 body characters (GB 11714-1997):
/// digits count as themselves, letters A–Z as 10–35; 11 − (Σ mod 11), 10 → X, 11 → 0.
pub fn org_code_check(body8: &str) -> Option<char> {
    let bytes = body8.as_bytes();
    if bytes.len() != 8 {
        return None;
    }
    let mut sum = 0;
    for (&c, w) in bytes.iter().zip(ORG_WEIGHTS) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    Some(match 11 - sum % 11 {
        10 => 'X',
        11 => '0',
        n => char::from(b'0' + n as u8),
    })
}

/// A full code: registration authority + category (`91` = market regulator, enterprise;
/// `12` = public institution), the 6-digit administrative division, the organization code
/// (8 characters + its GB 11714 check) and the GB 32100 check character.
pub fn make_uscc(prefix2: &str, region: &str, org_body8: &str) -> Option<String> {
    let org = format!("{org_body8}{}", org_code_check(org_body8)?);
    let first17 = format!("{prefix2}{region}{org}");
    Some(format!("{first17}{}", uscc_check(&first17)?))
}

/// The default tenant of the demo: the cluster's industry-brain operating centre, a public
/// institution (`12`) of Keqiao district (330603).
pub fn operator_tenant() -> String {
    make_uscc("12", "330603", "MB1K7Q2C").unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64 seeded from FNV-1a of (seed, key parts): the same key gives the same stream.
pub struct Rng(u64);

impl Rng {
    pub fn for_key(seed: u64, parts: &[&str]) -> Self {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut eat = |bytes: &[u8]| {
            for &b in bytes {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
        };
        eat(&seed.to_le_bytes());
        for part in parts {
            eat(part.as_bytes());
            eat(&[0xff]);
        }
        let mut rng = Rng(h);
        rng.next_u64();
        rng
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Uniform integer in [lo, hi].
    pub fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi.saturating_sub(lo) + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len().max(1) as u64) as usize]
    }

    fn char_of(&mut self, charset: &[u8]) -> char {
        char::from(charset[(self.next_u64() % charset.len() as u64) as usize])
    }
}

fn round_to(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

// ---------------------------------------------------------------------------------------
// The cluster

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Segment {
    Weaving,
    Dyeing,
    Garment,
    Integrated,
}

impl Segment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weaving => "weaving",
            Self::Dyeing => "dyeing",
            Self::Garment => "garment",
            Self::Integrated => "integrated",
        }
    }
}

/// Equipment of a line: name, (min, max) units per line, (min, max) output per unit and day.
type Equipment = (&'static str, (u64, u64), (f64, f64));

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Process {
    Weaving,
    Dyeing,
    Garment,
}

impl Process {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weaving => "weaving",
            Self::Dyeing => "dyeing",
            Self::Garment => "garment",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::Garment => "pcs",
            Self::Weaving | Self::Dyeing => "m",
        }
    }

    fn workshop(self) -> &'static str {
        match self {
            Self::Weaving => "织造车间",
            Self::Dyeing => "染整车间",
            Self::Garment => "成衣车间",
        }
    }

    /// (equipment, units per line, output per unit and day)
    fn equipment(self) -> &'static [Equipment] {
        match self {
            Self::Weaving => &[("喷气织机", (48, 192), (160.0, 260.0)), ("剑杆织机", (32, 128), (110.0, 180.0)), ("喷水织机", (64, 240), (180.0, 300.0))],
            Self::Dyeing => &[("溢流染色机", (12, 36), (1800.0, 3200.0)), ("气流染色机", (8, 24), (2200.0, 3800.0)), ("数码印花机", (4, 16), (2500.0, 5000.0))],
            Self::Garment => &[("吊挂缝制流水线", (24, 48), (35.0, 70.0)), ("平缝流水线", (20, 40), (25.0, 55.0))],
        }
    }

    fn products(self) -> &'static [&'static str] {
        match self {
            Self::Weaving => &["涤纶仿真丝面料", "全棉府绸", "涤棉平布", "牛仔布", "亚麻混纺布", "色织格子布", "锦纶塔丝隆"],
            Self::Dyeing => &["涤纶印花布", "活性染色全棉布", "数码印花雪纺", "染色涤纶春亚纺", "分散染色涤纶布"],
            Self::Garment => &["衬衫", "针织T恤", "连衣裙", "羽绒服", "儿童套装", "西裤", "针织毛衫"],
        }
    }

    /// Inspection standard of a product of this process.
    fn standard(self, product: &str) -> &'static str {
        match (self, product) {
            (Self::Garment, "衬衫") => "GB/T 2660-2017",
            (Self::Garment, "针织T恤") => "GB/T 22849-2014",
            (Self::Garment, _) => "GB 18401-2010",
            (Self::Weaving, _) => "GB/T 406-2018",
            (Self::Dyeing, _) => "GB/T 411-2017",
        }
    }

    /// (kWh, water m³, steam t) per unit of output.
    fn intensity(self) -> (f64, f64, f64) {
        match self {
            Self::Weaving => (0.42, 0.004, 0.0),
            Self::Dyeing => (0.26, 0.021, 0.0032),
            Self::Garment => (0.55, 0.006, 0.0004),
        }
    }

    /// (low, high) unit price in CNY.
    fn price(self) -> (f64, f64) {
        match self {
            Self::Weaving => (6.5, 24.0),
            Self::Dyeing => (9.0, 36.0),
            Self::Garment => (28.0, 260.0),
        }
    }
}

pub struct Region {
    pub province: &'static str,
    pub city: &'static str,
    pub county: &'static str,
    /// GB/T 2260 administrative division code.
    pub code: &'static str,
    pub lon: f64,
    pub lat: f64,
    pub area_code: &'static str,
    streets: &'static [&'static str],
    /// How enterprise names of the place start.
    name_prefixes: &'static [&'static str],
    segments: &'static [Segment],
    /// Share of the cluster's enterprises, in parts.
    weight: u32,
}

/// The places of the cluster: the Keqiao textile base (dyeing and weaving) and its supply
/// chain in Zhejiang, Shandong (cotton weaving, home textiles) and Jiangxi (garments).
pub const REGIONS: &[Region] = &[
    Region { province: "浙江省", city: "绍兴市", county: "柯桥区", code: "330603", lon: 120.49, lat: 30.08, area_code: "0575",
        streets: &["柯桥街道", "华舍街道", "齐贤街道", "杨汛桥街道", "钱清街道", "马鞍街道", "安昌街道"],
        name_prefixes: &["绍兴柯桥", "绍兴市柯桥区", "浙江"], segments: &[Segment::Dyeing, Segment::Weaving, Segment::Dyeing, Segment::Integrated], weight: 14 },
    Region { province: "浙江省", city: "绍兴市", county: "诸暨市", code: "330681", lon: 120.24, lat: 29.71, area_code: "0575",
        streets: &["大唐街道", "陶朱街道", "暨阳街道"], name_prefixes: &["诸暨", "浙江"], segments: &[Segment::Garment, Segment::Weaving], weight: 3 },
    Region { province: "浙江省", city: "绍兴市", county: "嵊州市", code: "330683", lon: 120.83, lat: 29.59, area_code: "0575",
        streets: &["剡湖街道", "三江街道"], name_prefixes: &["嵊州", "浙江"], segments: &[Segment::Weaving, Segment::Garment], weight: 2 },
    Region { province: "浙江省", city: "杭州市", county: "萧山区", code: "330109", lon: 120.26, lat: 30.18, area_code: "0571",
        streets: &["衙前镇", "党湾镇", "新塘街道"], name_prefixes: &["杭州萧山", "杭州"], segments: &[Segment::Weaving, Segment::Integrated], weight: 3 },
    Region { province: "浙江省", city: "湖州市", county: "吴兴区", code: "330502", lon: 120.26, lat: 30.84, area_code: "0572",
        streets: &["织里镇"], name_prefixes: &["湖州织里", "湖州"], segments: &[Segment::Garment], weight: 3 },
    Region { province: "浙江省", city: "嘉兴市", county: "桐乡市", code: "330483", lon: 120.57, lat: 30.63, area_code: "0573",
        streets: &["濮院镇", "梧桐街道"], name_prefixes: &["桐乡", "浙江"], segments: &[Segment::Garment], weight: 2 },
    Region { province: "浙江省", city: "嘉兴市", county: "海宁市", code: "330481", lon: 120.69, lat: 30.51, area_code: "0573",
        streets: &["马桥街道", "许村镇"], name_prefixes: &["海宁", "浙江"], segments: &[Segment::Weaving, Segment::Dyeing], weight: 2 },
    Region { province: "山东省", city: "滨州市", county: "邹平市", code: "371681", lon: 117.74, lat: 36.86, area_code: "0543",
        streets: &["魏桥镇", "黛溪街道"], name_prefixes: &["邹平", "山东"], segments: &[Segment::Weaving, Segment::Integrated], weight: 3 },
    Region { province: "山东省", city: "潍坊市", county: "高密市", code: "370785", lon: 119.76, lat: 36.38, area_code: "0536",
        streets: &["醴泉街道", "朝阳街道"], name_prefixes: &["高密", "山东"], segments: &[Segment::Weaving, Segment::Dyeing], weight: 2 },
    Region { province: "山东省", city: "青岛市", county: "即墨区", code: "370215", lon: 120.45, lat: 36.39, area_code: "0532",
        streets: &["环秀街道", "通济街道"], name_prefixes: &["青岛即墨", "青岛"], segments: &[Segment::Garment], weight: 2 },
    Region { province: "山东省", city: "淄博市", county: "周村区", code: "370306", lon: 117.87, lat: 36.80, area_code: "0533",
        streets: &["丝绸路街道", "北郊镇"], name_prefixes: &["淄博周村", "淄博"], segments: &[Segment::Weaving], weight: 1 },
    Region { province: "江西省", city: "九江市", county: "共青城市", code: "360482", lon: 115.81, lat: 29.25, area_code: "0792",
        streets: &["茶山街道", "江益镇"], name_prefixes: &["共青城", "江西"], segments: &[Segment::Garment], weight: 2 },
    Region { province: "江西省", city: "南昌市", county: "青山湖区", code: "360111", lon: 115.96, lat: 28.68, area_code: "0791",
        streets: &["京东镇", "湖坊镇"], name_prefixes: &["南昌", "江西"], segments: &[Segment::Garment], weight: 2 },
    Region { province: "江西省", city: "赣州市", county: "于都县", code: "360731", lon: 115.41, lat: 25.95, area_code: "0797",
        streets: &["贡江镇", "工业新区"], name_prefixes: &["于都", "江西"], segments: &[Segment::Garment, Segment::Weaving], weight: 2 },
];

const TRADE_FIRST: &[&str] = &["恒", "瑞", "锦", "澜", "泓", "禾", "璟", "绮", "越", "蓝", "青", "朗", "润", "嘉", "华", "宏", "汇", "鑫", "晟", "沐", "舒", "雅", "昱", "知"];
const TRADE_SECOND: &[&str] = &["丰", "达", "源", "彩", "织", "纺", "泰", "盛", "川", "岚", "晨", "宇", "辰", "锐", "兴", "诚", "禾", "朗", "缇", "纶"];
const ROADS: &[&str] = &["纺都路", "湖西路", "兴越路", "工业大道", "轻纺城大道", "创业路", "振兴路", "锦绣路", "滨江路", "永丰路"];

pub struct Line {
    /// `L01`, `L02`, … within the enterprise.
    pub id: String,
    pub name: String,
    pub process: Process,
    pub equipment: &'static str,
    pub equipment_count: u64,
    /// Output per day at full load, in `process.unit()`.
    pub capacity_per_day: f64,
    pub commissioned_year: i32,
    pub products: Vec<&'static str>,
    /// Share of samples with defects, typical of this line.
    pub defect_base: f64,
}

pub struct Enterprise {
    pub uscc: String,
    pub name: String,
    pub short_name: String,
    pub region: &'static Region,
    pub segment: Segment,
    pub address: String,
    pub lon: f64,
    pub lat: f64,
    pub phone: String,
    pub established: NaiveDate,
    pub registered_capital_wan: f64,
    pub employees: u64,
    /// How well the enterprise runs: scales utilization and quality (0.8–1.1).
    pub form: f64,
    pub lines: Vec<Line>,
}

pub struct Cluster {
    pub seed: u64,
    pub enterprises: Vec<Enterprise>,
}

impl Cluster {
    pub fn generate(seed: u64, count: usize) -> Self {
        let total_weight: u32 = REGIONS.iter().map(|r| r.weight).sum();
        let mut usccs = HashSet::new();
        let mut names = HashSet::new();
        let mut enterprises = Vec::with_capacity(count);
        for i in 0..count {
            let index = i.to_string();
            let mut rng = Rng::for_key(seed, &["enterprise", &index]);
            // Regions in proportion to their weights, deterministically spread.
            let mut slot = ((i as u64 * 7919 + rng.int(0, 3)) % u64::from(total_weight)) as u32;
            let region = REGIONS
                .iter()
                .find(|r| {
                    if slot < r.weight {
                        true
                    } else {
                        slot -= r.weight;
                        false
                    }
                })
                .unwrap_or(&REGIONS[0]);
            let segment = *rng.pick(region.segments);
            let established = NaiveDate::from_ymd_opt(rng.int(1996, 2023) as i32, rng.int(1, 12) as u32, rng.int(1, 28) as u32).unwrap_or_default();
            let uscc = loop {
                // Enterprises registered before the 2015 reform keep their numeric organization
                // code; later ones get an `MA…` code.
                let body = if established.year() < 2015 {
                    let mut b = String::from(*rng.pick(&["1", "2", "5", "6", "7"]));
                    for _ in 0..7 {
                        b.push(rng.char_of(b"0123456789"));
                    }
                    b
                } else {
                    let mut b = String::from("MA");
                    b.push(rng.char_of(b"0123456789"));
                    for _ in 0..5 {
                        b.push(rng.char_of(USCC_CHARSET));
                    }
                    b
                };
                match make_uscc("91", region.code, &body) {
                    Some(code) if usccs.insert(code.clone()) => break code,
                    _ => continue,
                }
            };
            let mut attempts = 0;
            let (short_name, name) = loop {
                attempts += 1;
                let mut trade = format!("{}{}", rng.pick(TRADE_FIRST), rng.pick(TRADE_SECOND));
                if attempts > 40 {
                    // More enterprises than two-character trade names: make it unique.
                    trade.push_str(&format!("{i}"));
                }
                let prefix = rng.pick(region.name_prefixes);
                let kind = match segment {
                    Segment::Weaving => *rng.pick(&["纺织有限公司", "织造有限公司", "纺织品有限公司"]),
                    Segment::Dyeing => *rng.pick(&["印染有限公司", "染整有限公司", "印染科技有限公司"]),
                    Segment::Garment => *rng.pick(&["服饰有限公司", "服装有限公司", "制衣有限公司"]),
                    Segment::Integrated => *rng.pick(&["纺织股份有限公司", "纺织科技有限公司", "纺织集团有限公司"]),
                };
                let name = format!("{prefix}{trade}{kind}");
                if names.insert(trade.clone()) {
                    break (trade, name);
                }
            };
            let processes: Vec<Process> = match segment {
                Segment::Weaving => vec![Process::Weaving; rng.int(1, 3) as usize],
                Segment::Dyeing => vec![Process::Dyeing; rng.int(1, 3) as usize],
                Segment::Garment => vec![Process::Garment; rng.int(1, 4) as usize],
                Segment::Integrated => {
                    let mut p = vec![Process::Weaving, Process::Dyeing];
                    if rng.chance(0.5) {
                        p.push(Process::Garment);
                    }
                    p
                }
            };
            let form = rng.range(0.8, 1.1);
            let mut lines = Vec::new();
            let mut workers = 0;
            for (n, process) in processes.into_iter().enumerate() {
                let (equipment, count, per_unit) = *rng.pick(process.equipment());
                let units = rng.int(count.0, count.1);
                let capacity = (units as f64 * rng.range(per_unit.0, per_unit.1)).round();
                let mut products: Vec<&'static str> = Vec::new();
                for _ in 0..rng.int(1, 3) {
                    let p = *rng.pick(process.products());
                    if !products.contains(&p) {
                        products.push(p);
                    }
                }
                workers += match process {
                    Process::Weaving => units / 4 + 12,
                    Process::Dyeing => units * 3 + 20,
                    Process::Garment => units + 8,
                };
                lines.push(Line {
                    id: format!("L{:02}", n + 1),
                    name: format!("{}{}", ["一号", "二号", "三号", "四号"].get(n).copied().unwrap_or("新"), process.workshop()),
                    process,
                    equipment,
                    equipment_count: units,
                    capacity_per_day: capacity,
                    commissioned_year: rng.int(u64::from(established.year().max(2000) as u32), 2024) as i32,
                    products,
                    defect_base: rng.range(0.004, 0.03) / form,
                });
            }
            let street = rng.pick(region.streets);
            let address = format!("{}{}{}{}{}{}号", region.province, region.city, region.county, street, rng.pick(ROADS), rng.int(1, 999));
            enterprises.push(Enterprise {
                uscc,
                name,
                short_name,
                region,
                segment,
                address,
                lon: round_to(region.lon + rng.range(-0.08, 0.08), 5),
                lat: round_to(region.lat + rng.range(-0.06, 0.06), 5),
                phone: format!("{}-{}", region.area_code, rng.int(8100_0000, 8899_9999)),
                established,
                registered_capital_wan: (rng.range(200.0, 20_000.0) / 50.0).round() * 50.0,
                employees: workers + rng.int(10, 80),
                form,
                lines,
            });
        }
        Self { seed, enterprises }
    }

    pub fn line_count(&self) -> usize {
        self.enterprises.iter().map(|e| e.lines.len()).sum()
    }
}

// ---------------------------------------------------------------------------------------
// Datasets and records

pub const ENTERPRISES: &str = "enterprises";
pub const PRODUCTION_LINES: &str = "production-lines";
pub const PRODUCTION_OUTPUT: &str = "production-output";
pub const ENERGY_USE: &str = "energy-use";
pub const ORDERS: &str = "orders";
pub const QUALITY_CHECKS: &str = "quality-checks";
#[cfg(test)]
pub const DATASETS: [&str; 6] = [ENTERPRISES, PRODUCTION_LINES, PRODUCTION_OUTPUT, ENERGY_USE, ORDERS, QUALITY_CHECKS];

const USCC_PATTERN: &str = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$";
const DAY_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

fn field(name: &str, kind: &str, required: bool, description: &str) -> Value {
    json!({"name": name, "type": kind, "required": required, "description": description})
}

/// The catalog registration (`NewDataset`) of one of [`DATASETS`] under `name`, owned by `tenant`.
pub fn dataset_spec(kind: &str, name: &str, tenant: &str) -> Option<Value> {
    let lines_ref = format!("{tenant}/{PRODUCTION_LINES}");
    let enterprises_ref = format!("{tenant}/{ENTERPRISES}");
    let spec = match kind {
        ENTERPRISES => json!({
            "title": "集群企业名录 Enterprises of the cluster",
            "description": "Basic library: textile and apparel enterprises of the cluster with their unified social credit code (GB 32100-2015), segment and location.",
            "library": "basic", "domain": "management",
            "fields": [
                field("uscc", "string", true, "统一社会信用代码 unified social credit code"),
                field("name", "string", true, "企业名称 registered name"),
                field("short_name", "string", false, "字号 trade name"),
                field("segment", "string", true, "weaving | dyeing | garment | integrated"),
                field("province", "string", true, "省"),
                field("city", "string", true, "市"),
                field("county", "string", true, "区县"),
                field("region_code", "string", true, "GB/T 2260 administrative division code"),
                field("address", "string", false, "注册地址 registered address"),
                field("longitude", "number", false, "WGS-84"),
                field("latitude", "number", false, "WGS-84"),
                field("phone", "string", false, "switchboard number"),
                field("established", "string", false, "成立日期 YYYY-MM-DD"),
                field("registered_capital_wan", "number", false, "注册资本 in 10,000 CNY"),
                field("employees", "integer", false, "从业人数"),
                field("line_count", "integer", false, "production lines"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "uscc", "pattern": USCC_PATTERN},
                {"rule": "enum", "field": "segment", "values": ["weaving", "dyeing", "garment", "integrated"]},
                {"rule": "regex", "field": "region_code", "pattern": "^[0-9]{6}$"},
                {"rule": "regex", "field": "established", "pattern": DAY_PATTERN},
                {"rule": "range", "field": "longitude", "min": 73.0, "max": 136.0},
                {"rule": "range", "field": "latitude", "min": 3.0, "max": 54.0},
                {"rule": "range", "field": "employees", "min": 1, "max": 200000},
                {"rule": "range", "field": "registered_capital_wan", "min": 0, "max": 10000000},
            ],
        }),
        PRODUCTION_LINES => json!({
            "title": "生产线 Production lines",
            "description": "Basic library: weaving, dyeing and garment lines of each enterprise with equipment and daily capacity.",
            "library": "basic", "domain": "production",
            "fields": [
                field("enterprise_uscc", "string", true, "owner enterprise"),
                field("line_id", "string", true, "L01, L02, … within the enterprise"),
                field("name", "string", true, "车间名称"),
                field("process", "string", true, "weaving | dyeing | garment"),
                field("equipment", "string", true, "main equipment type"),
                field("equipment_count", "integer", true, "units of equipment"),
                field("capacity_per_day", "number", true, "output per day at full load, in unit"),
                field("unit", "string", true, "m (metres of fabric) | pcs (garments)"),
                field("commissioned_year", "integer", false, "投产年份"),
                field("products", "object", false, "products made on the line"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "enterprise_uscc", "pattern": USCC_PATTERN},
                {"rule": "enum", "field": "process", "values": ["weaving", "dyeing", "garment"]},
                {"rule": "enum", "field": "unit", "values": ["m", "pcs"]},
                {"rule": "range", "field": "capacity_per_day", "min": 0, "max": 2000000},
                {"rule": "range", "field": "commissioned_year", "min": 1980, "max": 2035},
            ],
            "lineage_sources": [enterprises_ref],
        }),
        PRODUCTION_OUTPUT => json!({
            "title": "日产量 Daily output per production line",
            "description": "Industry library: output of each line per day (metres of fabric or garment pieces) against plan.",
            "library": "industry", "domain": "production",
            "fields": [
                field("enterprise_uscc", "string", true, "enterprise"),
                field("line_id", "string", true, "production line"),
                field("process", "string", true, "weaving | dyeing | garment"),
                field("product", "string", true, "产品"),
                field("day", "string", true, "YYYY-MM-DD (China Standard Time)"),
                field("output_qty", "number", true, "产量, in unit"),
                field("unit", "string", true, "m | pcs"),
                field("planned_qty", "number", false, "计划产量"),
                field("operating_hours", "number", false, "开机时长 h"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "enterprise_uscc", "pattern": USCC_PATTERN},
                {"rule": "enum", "field": "process", "values": ["weaving", "dyeing", "garment"]},
                {"rule": "regex", "field": "day", "pattern": DAY_PATTERN},
                {"rule": "range", "field": "output_qty", "min": 0, "max": 2000000},
                {"rule": "enum", "field": "unit", "values": ["m", "pcs"]},
                {"rule": "range", "field": "operating_hours", "min": 0, "max": 24},
            ],
            "lineage_sources": [lines_ref],
        }),
        ENERGY_USE => json!({
            "title": "能耗 Daily energy and water use per line",
            "description": "Industry library: electricity, water and steam consumed by each line per day.",
            "library": "industry", "domain": "production",
            "fields": [
                field("enterprise_uscc", "string", true, "enterprise"),
                field("line_id", "string", true, "production line"),
                field("process", "string", true, "weaving | dyeing | garment"),
                field("day", "string", true, "YYYY-MM-DD (China Standard Time)"),
                field("electricity_kwh", "number", true, "用电量 kWh"),
                field("water_m3", "number", true, "用水量 m³"),
                field("steam_t", "number", false, "蒸汽 t (dyeing)"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "enterprise_uscc", "pattern": USCC_PATTERN},
                {"rule": "regex", "field": "day", "pattern": DAY_PATTERN},
                {"rule": "range", "field": "electricity_kwh", "min": 0, "max": 5000000},
                {"rule": "range", "field": "water_m3", "min": 0, "max": 1000000},
                {"rule": "range", "field": "steam_t", "min": 0, "max": 100000},
            ],
            "lineage_sources": [lines_ref],
        }),
        ORDERS => json!({
            "title": "订单 Sales orders",
            "description": "Industry library: orders received by the enterprises (customer, quantity, amount, delivery date).",
            "library": "industry", "domain": "management",
            "fields": [
                field("order_no", "string", true, "订单号"),
                field("enterprise_uscc", "string", true, "supplier enterprise"),
                field("customer", "string", true, "客户"),
                field("market", "string", true, "domestic | export"),
                field("customer_country", "string", true, "ISO 3166-1 alpha-2"),
                field("product", "string", true, "产品"),
                field("quantity", "number", true, "数量, in unit"),
                field("unit", "string", true, "m | pcs"),
                field("unit_price_cny", "number", true, "单价 CNY"),
                field("amount_cny", "number", true, "金额 CNY"),
                field("order_date", "string", true, "YYYY-MM-DD"),
                field("delivery_date", "string", true, "交期 YYYY-MM-DD"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "enterprise_uscc", "pattern": USCC_PATTERN},
                {"rule": "enum", "field": "market", "values": ["domestic", "export"]},
                {"rule": "regex", "field": "customer_country", "pattern": "^[A-Z]{2}$"},
                {"rule": "range", "field": "quantity", "min": 1, "max": 10000000},
                {"rule": "enum", "field": "unit", "values": ["m", "pcs"]},
                {"rule": "range", "field": "amount_cny", "min": 0, "max": 1000000000},
                {"rule": "regex", "field": "order_date", "pattern": DAY_PATTERN},
                {"rule": "regex", "field": "delivery_date", "pattern": DAY_PATTERN},
            ],
            "lineage_sources": [enterprises_ref],
        }),
        QUALITY_CHECKS => json!({
            "title": "质检 Quality checks of production batches",
            "description": "Industry library: inspection of production batches — sample, defects, defect rate and grade (A/B/C).",
            "library": "industry", "domain": "production",
            "fields": [
                field("check_id", "string", true, "检验单号"),
                field("enterprise_uscc", "string", true, "enterprise"),
                field("line_id", "string", true, "production line"),
                field("batch_no", "string", true, "批号"),
                field("product", "string", true, "产品"),
                field("standard", "string", false, "检验标准"),
                field("sample_size", "integer", true, "抽样数"),
                field("defects", "integer", true, "疵点/不合格数"),
                field("defect_rate", "number", true, "defects / sample_size, 0–1"),
                field("grade", "string", true, "A | B | C"),
            ],
            "quality_rules": [
                {"rule": "regex", "field": "enterprise_uscc", "pattern": USCC_PATTERN},
                {"rule": "range", "field": "sample_size", "min": 1, "max": 100000},
                {"rule": "range", "field": "defects", "min": 0},
                {"rule": "range", "field": "defect_rate", "min": 0, "max": 1},
                {"rule": "enum", "field": "grade", "values": ["A", "B", "C"]},
            ],
            "lineage_sources": [lines_ref],
        }),
        _ => return None,
    };
    let Value::Object(mut spec) = spec else { return None };
    spec.insert("name".into(), Value::from(name));
    Some(Value::Object(spec))
}

/// One record as pushed through ingestion: `_id`, `_event_time` and the fields.
#[derive(Clone, Debug)]
pub struct DemoRecord {
    pub id: String,
    /// RFC 3339 with the +08:00 offset.
    pub event_time: String,
    pub fields: Map<String, Value>,
    /// The kind of defect planted in this record, if any.
    pub bad: Option<&'static str>,
}

impl DemoRecord {
    fn new(id: String, event_time: String, fields: Value) -> Self {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self { id, event_time, fields, bad: None }
    }

    /// The record as a JSON object with `_id` and `_event_time`.
    pub fn to_json(&self) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 2);
        object.insert("_id".into(), Value::from(self.id.as_str()));
        object.insert("_event_time".into(), Value::from(self.event_time.as_str()));
        object.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(object)
    }
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> String {
    format!("{}T{hour:02}:{minute:02}:00+08:00", day.format("%Y-%m-%d"))
}

/// How busy a day is: Sundays and the week around 1 October (National Day) are slower.
fn day_factor(day: NaiveDate) -> f64 {
    let weekday = match day.weekday() {
        chrono::Weekday::Sun => 0.72,
        chrono::Weekday::Sat => 0.9,
        _ => 1.0,
    };
    let holiday = if day.month() == 10 && day.day() <= 7 { 0.45 } else { 1.0 };
    weekday * holiday
}

impl Cluster {
    pub fn enterprise_records(&self, as_of: NaiveDate) -> Vec<DemoRecord> {
        self.enterprises
            .iter()
            .map(|e| {
                DemoRecord::new(
                    e.uscc.clone(),
                    at(as_of, 0, 0),
                    json!({
                        "uscc": e.uscc, "name": e.name, "short_name": e.short_name, "segment": e.segment.as_str(),
                        "province": e.region.province, "city": e.region.city, "county": e.region.county, "region_code": e.region.code,
                        "address": e.address, "longitude": e.lon, "latitude": e.lat, "phone": e.phone,
                        "established": e.established.format("%Y-%m-%d").to_string(),
                        "registered_capital_wan": e.registered_capital_wan, "employees": e.employees, "line_count": e.lines.len(),
                    }),
                )
            })
            .collect()
    }

    pub fn line_records(&self, as_of: NaiveDate) -> Vec<DemoRecord> {
        self.enterprises
            .iter()
            .flat_map(|e| {
                e.lines.iter().map(move |l| {
                    DemoRecord::new(
                        format!("{}-{}", e.uscc, l.id),
                        at(as_of, 0, 0),
                        json!({
                            "enterprise_uscc": e.uscc, "line_id": l.id, "name": l.name, "process": l.process.as_str(),
                            "equipment": l.equipment, "equipment_count": l.equipment_count, "capacity_per_day": l.capacity_per_day,
                            "unit": l.process.unit(), "commissioned_year": l.commissioned_year, "products": l.products,
                        }),
                    )
                })
            })
            .collect()
    }

    /// Output of one line on one day.
    pub fn output_record(&self, e: &Enterprise, l: &Line, day: NaiveDate) -> DemoRecord {
        let d = day.format("%Y-%m-%d").to_string();
        let mut rng = Rng::for_key(self.seed, &["output", &e.uscc, &l.id, &d]);
        let utilization = (rng.range(0.62, 0.96) * e.form * day_factor(day)).min(1.0);
        let output = (l.capacity_per_day * utilization).round();
        let hours = match l.process {
            Process::Garment => rng.range(8.0, 11.0) * day_factor(day).max(0.6),
            _ => (24.0 * utilization + rng.range(-1.5, 1.5)).clamp(0.0, 24.0),
        };
        let product = *rng.pick(&l.products);
        DemoRecord::new(
            format!("po-{}-{}-{d}", e.uscc, l.id),
            at(day, 20, 0),
            json!({
                "enterprise_uscc": e.uscc, "line_id": l.id, "process": l.process.as_str(), "product": product, "day": d,
                "output_qty": output, "unit": l.process.unit(), "planned_qty": (l.capacity_per_day * 0.85).round(),
                "operating_hours": round_to(hours, 1),
            }),
        )
    }

    pub fn energy_record(&self, e: &Enterprise, l: &Line, day: NaiveDate) -> DemoRecord {
        let output = self.output_record(e, l, day).fields.get("output_qty").and_then(Value::as_f64).unwrap_or(0.0);
        let d = day.format("%Y-%m-%d").to_string();
        let mut rng = Rng::for_key(self.seed, &["energy", &e.uscc, &l.id, &d]);
        let (kwh, water, steam) = l.process.intensity();
        // A base load (lighting, compressors, HVAC) plus a share proportional to output.
        let base = l.capacity_per_day * kwh * 0.08;
        DemoRecord::new(
            format!("en-{}-{}-{d}", e.uscc, l.id),
            at(day, 23, 30),
            json!({
                "enterprise_uscc": e.uscc, "line_id": l.id, "process": l.process.as_str(), "day": d,
                "electricity_kwh": round_to(base + output * kwh * rng.range(0.9, 1.12), 1),
                "water_m3": round_to(output * water * rng.range(0.85, 1.15) + 2.0, 1),
                "steam_t": round_to(output * steam * rng.range(0.9, 1.1), 2),
            }),
        )
    }

    pub fn quality_records(&self, e: &Enterprise, l: &Line, day: NaiveDate) -> Vec<DemoRecord> {
        let d = day.format("%Y-%m-%d").to_string();
        let compact = day.format("%Y%m%d").to_string();
        let mut rng = Rng::for_key(self.seed, &["quality", &e.uscc, &l.id, &d]);
        let batches = match l.process {
            Process::Weaving => rng.int(1, 2),
            Process::Dyeing => rng.int(2, 3),
            Process::Garment => rng.int(1, 3),
        };
        (1..=batches)
            .map(|b| {
                let product = *rng.pick(&l.products);
                let sample = rng.int(80, 500);
                // Most batches near the line's typical rate, an occasional bad one.
                let rate = if rng.chance(0.04) { l.defect_base * rng.range(2.5, 5.0) } else { l.defect_base * rng.range(0.3, 1.6) };
                let defects = (sample as f64 * rate).round() as u64;
                let defect_rate = round_to(defects as f64 / sample as f64, 4);
                let grade = if defect_rate <= 0.015 {
                    "A"
                } else if defect_rate <= 0.035 {
                    "B"
                } else {
                    "C"
                };
                let short = &e.uscc[8..12];
                DemoRecord::new(
                    format!("qc-{}-{}-{d}-{b}", e.uscc, l.id),
                    at(day, 8 + 3 * b as u32, rng.int(0, 59) as u32),
                    json!({
                        "check_id": format!("QC{compact}{short}{}{b:02}", &l.id[1..]),
                        "enterprise_uscc": e.uscc, "line_id": l.id,
                        "batch_no": format!("B{compact}-{}-{b:02}", l.id),
                        "product": product, "standard": l.process.standard(product),
                        "sample_size": sample, "defects": defects, "defect_rate": defect_rate, "grade": grade,
                    }),
                )
            })
            .collect()
    }

    pub fn order_records(&self, e: &Enterprise, day: NaiveDate) -> Vec<DemoRecord> {
        let d = day.format("%Y-%m-%d").to_string();
        let compact = day.format("%Y%m%d").to_string();
        let mut rng = Rng::for_key(self.seed, &["orders", &e.uscc, &d]);
        let expected = e.lines.len() as f64 * 0.35 * day_factor(day);
        let count = (expected + rng.unit()).floor() as u64;
        (1..=count)
            .map(|n| {
                let line = rng.pick(&e.lines);
                let product = *rng.pick(&line.products);
                let export = rng.chance(if line.process == Process::Garment { 0.45 } else { 0.25 });
                let (customer, country): (String, &str) = if export {
                    let (name, country) = *rng.pick(EXPORT_CUSTOMERS);
                    (name.to_owned(), country)
                } else {
                    let trade = format!("{}{}", rng.pick(&["新", "嘉", "卓", "衡", "沃", "睿", "启", "尚", "美", "优"]), rng.pick(&["雅", "程", "衣", "尚", "品", "纺", "服", "帆"]));
                    (format!("{}{trade}{}", rng.pick(DOMESTIC_CITIES), rng.pick(DOMESTIC_KINDS)), "CN")
                };
                let quantity = match line.process {
                    Process::Garment => (rng.range(800.0, 24_000.0) / 100.0).round() * 100.0,
                    _ => (rng.range(4_000.0, 90_000.0) / 500.0).round() * 500.0,
                };
                let (lo, hi) = line.process.price();
                let price = round_to(rng.range(lo, hi), 2);
                let delivery = day + chrono::Days::new(rng.int(15, 60));
                DemoRecord::new(
                    format!("so-{}-{d}-{n}", e.uscc),
                    at(day, 9 + rng.int(0, 8) as u32, rng.int(0, 59) as u32),
                    json!({
                        "order_no": format!("SO{compact}{}{n:02}", &e.uscc[10..16]),
                        "enterprise_uscc": e.uscc, "customer": customer,
                        "market": if export { "export" } else { "domestic" }, "customer_country": country,
                        "product": product, "quantity": quantity, "unit": line.process.unit(), "unit_price_cny": price,
                        "amount_cny": round_to(quantity * price, 2),
                        "order_date": d, "delivery_date": delivery.format("%Y-%m-%d").to_string(),
                    }),
                )
            })
            .collect()
    }
}

const EXPORT_CUSTOMERS: &[(&str, &str)] = &[
    ("Nordvik Apparel AB", "SE"),
    ("Hanseatic Textilhandel GmbH", "DE"),
    ("Kanto Fashion Trading Co., Ltd.", "JP"),
    ("Atlantic Garment Sourcing LLC", "US"),
    ("Dhaka Knit Exports Ltd.", "BD"),
    ("Tessuti Lombardi S.r.l.", "IT"),
    ("Saigon Garment Partners JSC", "VN"),
    ("Maple Leaf Outfitters Inc.", "CA"),
    ("Gulf Textile Trading LLC", "AE"),
    ("Han River Fashion Co., Ltd.", "KR"),
];
const DOMESTIC_CITIES: &[&str] = &["杭州", "上海", "广州", "宁波", "深圳", "武汉", "北京", "温州", "泉州", "苏州"];
const DOMESTIC_KINDS: &[&str] = &["服饰有限公司", "时装有限公司", "服装有限公司", "进出口有限公司", "家纺有限公司", "童装有限公司"];

// ---------------------------------------------------------------------------------------
// Planted defects

/// Spoils `record` of dataset `kind` in one of the ways real feeds go wrong; returns the kind
/// of defect. The defects fail the dataset's schema or quality rules in governance.
pub fn spoil(kind: &str, record: &mut DemoRecord, rng: &mut Rng) -> Option<&'static str> {
    let f = &mut record.fields;
    let negate = |f: &mut Map<String, Value>, key: &str| {
        let v = f.get(key).and_then(Value::as_f64).unwrap_or(1.0).max(1.0);
        f.insert(key.into(), Value::from(-v));
    };
    let choice = rng.int(0, 2);
    let defect = match (kind, choice) {
        (PRODUCTION_OUTPUT, 0) => {
            // A correction keyed in as a negative output.
            negate(f, "output_qty");
            "negative output_qty"
        }
        (PRODUCTION_OUTPUT, 1) => {
            f.insert("unit".into(), Value::from("码"));
            "unknown unit 码 (yards)"
        }
        (PRODUCTION_OUTPUT, _) => {
            f.remove("product");
            "missing product"
        }
        (ENERGY_USE, 0) => {
            // A water meter rolled over.
            negate(f, "water_m3");
            "negative water_m3"
        }
        (ENERGY_USE, 1) => {
            let kwh = f.get("electricity_kwh").and_then(Value::as_f64).unwrap_or(0.0);
            f.insert("electricity_kwh".into(), Value::from(format!("{kwh} kWh")));
            "electricity_kwh as text"
        }
        (ENERGY_USE, _) => {
            f.remove("electricity_kwh");
            "missing electricity_kwh"
        }
        (ORDERS, 0) => {
            f.insert("market".into(), Value::from("出口"));
            "unknown market 出口"
        }
        (ORDERS, 1) => {
            negate(f, "quantity");
            "negative quantity"
        }
        (ORDERS, _) => {
            f.remove("customer");
            "missing customer"
        }
        (QUALITY_CHECKS, 0) => {
            f.insert("grade".into(), Value::from(*rng.pick(&["D", "优等品", "合格"])));
            "unknown grade"
        }
        (QUALITY_CHECKS, 1) => {
            // The rate entered in per cent instead of as a fraction.
            let rate = f.get("defect_rate").and_then(Value::as_f64).unwrap_or(0.0);
            f.insert("defect_rate".into(), Value::from(round_to(rate * 100.0, 2).max(1.2)));
            "defect_rate in per cent"
        }
        (QUALITY_CHECKS, _) => {
            f.remove("batch_no");
            "missing batch_no"
        }
        _ => return None,
    };
    record.bad = Some(defect);
    Some(defect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_check_out() {
        // A published code (华为技术有限公司): both check characters.
        assert!(uscc_valid("914403001922038216"));
        assert_eq!(org_code_check("19220382"), Some('1'));
        assert!(!uscc_valid("914403001922038217"));
        assert!(!uscc_valid("91440300192203821"));
        assert_eq!(uscc_check("91440300192203821"), Some('6'));
        assert_eq!(uscc_check("9144030019220382I"), None, "I is not in the charset");
    }

    #[test]
    fn check_31_becomes_0() {
        // Find a body whose sum is a multiple of 31: its check must be '0', never out of range.
        let found = (0..100_000u32).map(|n| format!("913306035{n:08}")).find(|b| uscc_check(b) == Some('0'));
        assert!(found.is_some());
    }

    #[test]
    fn generated_codes_are_valid_and_unique() {
        let cluster = Cluster::generate(7, 120);
        let mut seen = HashSet::new();
        for e in &cluster.enterprises {
            assert!(uscc_valid(&e.uscc), "{}", e.uscc);
            assert!(e.uscc.starts_with("91"));
            assert_eq!(&e.uscc[2..8], e.region.code);
            assert_eq!(org_code_check(&e.uscc[8..16]), e.uscc[16..17].chars().next(), "{}", e.uscc);
            assert!(seen.insert(e.uscc.clone()));
            assert!(!e.lines.is_empty());
            assert!(e.name.ends_with("公司"), "{}", e.name);
        }
        assert!(uscc_valid(&operator_tenant()));
    }

    #[test]
    fn same_seed_same_cluster_and_same_day_same_record() {
        let (a, b) = (Cluster::generate(42, 40), Cluster::generate(42, 40));
        assert_eq!(a.enterprises.iter().map(|e| &e.uscc).collect::<Vec<_>>(), b.enterprises.iter().map(|e| &e.uscc).collect::<Vec<_>>());
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let (e, l) = (&a.enterprises[3], &a.enterprises[3].lines[0]);
        assert_eq!(a.output_record(e, l, day).to_json(), b.output_record(e, l, day).to_json());
        assert_ne!(Cluster::generate(43, 40).enterprises[0].uscc, a.enterprises[0].uscc);
    }

    #[test]
    fn regions_cover_three_provinces() {
        let cluster = Cluster::generate(2026, 40);
        for province in ["浙江省", "山东省", "江西省"] {
            assert!(cluster.enterprises.iter().any(|e| e.region.province == province), "{province}");
        }
    }

    #[test]
    fn every_dataset_has_a_spec_whose_rules_name_its_fields() {
        for kind in DATASETS {
            let spec = dataset_spec(kind, kind, "t").unwrap();
            let fields: Vec<&str> = spec["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
            for rule in spec["quality_rules"].as_array().unwrap() {
                assert!(fields.contains(&rule["field"].as_str().unwrap()), "{kind}: {rule}");
            }
        }
    }

    #[test]
    fn records_fit_their_schemas() {
        let cluster = Cluster::generate(1, 10);
        let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let e = &cluster.enterprises[0];
        let mut records = vec![(ENTERPRISES, cluster.enterprise_records(day).remove(0)), (PRODUCTION_LINES, cluster.line_records(day).remove(0))];
        records.push((PRODUCTION_OUTPUT, cluster.output_record(e, &e.lines[0], day)));
        records.push((ENERGY_USE, cluster.energy_record(e, &e.lines[0], day)));
        records.extend(cluster.quality_records(e, &e.lines[0], day).into_iter().map(|r| (QUALITY_CHECKS, r)));
        for d in 0..10 {
            records.extend(cluster.order_records(e, day + chrono::Days::new(d)).into_iter().map(|r| (ORDERS, r)));
        }
        for (kind, record) in records {
            let spec = dataset_spec(kind, kind, "t").unwrap();
            for f in spec["fields"].as_array().unwrap() {
                let name = f["name"].as_str().unwrap();
                if f["required"] == true {
                    assert!(record.fields.contains_key(name), "{kind}: {name} missing in {:?}", record.fields);
                }
            }
            for key in record.fields.keys() {
                assert!(spec["fields"].as_array().unwrap().iter().any(|f| f["name"] == key.as_str()), "{kind}: unknown {key}");
            }
            assert!(chrono::DateTime::parse_from_rfc3339(&record.event_time).is_ok());
        }
    }
}
