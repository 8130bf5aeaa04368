use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn empty_config_is_an_embedded_brain() {
    let config = parse("", &[]).unwrap();
    assert_eq!(config.common.bus, "embedded");
    assert_eq!(config.common.http_addr, "127.0.0.1:8080");
    assert_eq!(config.common.database_url(), "sqlite://./.brain/brain.db");
}

#[test]
fn unknown_key_is_named() {
    let err = parse("common:\n  databse: postgres://x/y\n", &[]).unwrap_err().to_string();
    assert!(err.contains("common"), "{err}");
    assert!(err.contains("databse"), "{err}");
}

#[test]
fn unknown_section_is_named() {
    let err = parse("ingest:\n  max_body_bytes: 3\n", &[]).unwrap_err().to_string();
    assert!(err.contains("unknown field `ingest`"), "{err}");
}

#[test]
fn wrong_type_names_the_nested_key() {
    let err = parse("bus:\n  partitions: many\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("config key `bus.partitions`"), "{err}");
}

#[test]
fn env_overrides_file_and_keeps_types() {
    let yaml = "common:\n  http_addr: 127.0.0.1:9000\nbus:\n  partitions: 3\n";
    let config = parse(
        yaml,
        &vars(&[
            ("BRAIN_COMMON__HTTP_ADDR", "0.0.0.0:8081"),
            ("BRAIN_BUS__PARTITIONS", "12"),
            ("BRAIN_COMMON__INDUSTRY__CODE", "newenergy"),
            ("BRAIN_TEST_KAFKA", "ignored: no double underscore"),
        ]),
    )
    .unwrap();
    assert_eq!(config.common.http_addr, "0.0.0.0:8081");
    assert_eq!(config.bus.partitions, 12);
    assert_eq!(config.common.industry.code, "newenergy");
}

#[test]
fn unknown_env_key_is_refused() {
    let err = parse("", &vars(&[("BRAIN_COMMON__HTTP_ADR", "0.0.0.0:1")])).unwrap_err().to_string();
    assert!(err.contains("http_adr"), "{err}");
}

#[test]
fn validation_names_key_and_reason() {
    let err = parse("common:\n  bus: nats://x\n", &[]).unwrap_err().to_string();
    assert_eq!(err, "config key `common.bus`: must be `embedded` or `kafka://host:port[,host:port…]`");
    let err = parse("common:\n  grpc_addr: localhost\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("config key `common.grpc_addr`"), "{err}");
    let err = parse("ingestion:\n  max_record_bytes: 0\n", &[]).unwrap_err().to_string();
    assert!(err.starts_with("config key `ingestion.max_record_bytes`"), "{err}");
}

#[test]
fn kafka_bus_accepts_broker_lists() {
    let config = parse("common:\n  bus: kafka://a:9092,b:9093\n", &[]).unwrap();
    assert_eq!(config.common.bus, "kafka://a:9092,b:9093");
    assert!(parse("common:\n  bus: kafka://a\n", &[]).is_err());
}

#[test]
fn printed_config_hides_passwords() {
    let config = parse("common:\n  database: postgres://brain:s3cret@db:5432/brain\n", &[]).unwrap();
    let printed = to_redacted_yaml(&config).unwrap();
    assert!(!printed.contains("s3cret"));
    assert!(printed.contains("postgres://brain:***@db:5432/brain"));
    // The printed form is itself a valid config.
    parse(&printed.replace("***", "x"), &[]).unwrap();
}

#[test]
fn file_errors_name_the_path() {
    let err = load_from(Some(std::path::Path::new("/nonexistent/brain.yaml")), &[]).unwrap_err().to_string();
    assert!(err.contains("/nonexistent/brain.yaml"), "{err}");
}
