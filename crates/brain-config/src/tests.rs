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

const SOURCES: &str = r#"
ingestion:
  mqtt:
    - name: line-telemetry
      broker: mqtt://edge:s3cret@127.0.0.1:1883
      topic: factory/{uscc}/line/{line}/telemetry
      dataset: line-telemetry
      tenant: "{uscc}"
      qos: 1
  pulls:
    - name: power-daily
      url: https://open.example.gov.cn/api/power?region=330100
      schedule: "*/5 * * * *"
      tenant: gov-power
      dataset: power-usage
      records_pointer: /data/items
      cursor: { param: since, from_field: updated_at }
      headers: { X-Api-Key: k3y-value }
      timeout_seconds: 20
"#;

#[test]
fn ingestion_sources_parse_with_defaults() {
    let config = parse(SOURCES, &[]).unwrap();
    let m = &config.ingestion.mqtt[0];
    assert_eq!(m.qos, 1);
    assert_eq!(m.keep_alive_seconds, 30);
    assert_eq!(m.client_id(&config.common), "brain-textile-line-telemetry");
    assert_eq!(
        parse_mqtt_broker(&m.broker).unwrap(),
        MqttBroker { host: "127.0.0.1".into(), port: 1883, username: Some("edge".into()), password: Some("s3cret".into()) }
    );
    let p = &config.ingestion.pulls[0];
    assert_eq!(p.cursor, Some(PullCursorConfig { param: "since".into(), from_field: "updated_at".into() }));
    assert_eq!(p.max_pages_per_run, 1);
    assert_eq!(p.headers["X-Api-Key"], "k3y-value");
    // Defaults of a minimal feed.
    let minimal = "ingestion:\n  pulls:\n    - { name: f, url: 'http://x/y', schedule: '0 2 * * *', tenant: t, dataset: d }\n";
    let p = parse(minimal, &[]).unwrap().ingestion.pulls.remove(0);
    assert_eq!((p.records_pointer.as_str(), p.cursor, p.timeout_seconds), ("", None, 30));
}

#[test]
fn ingestion_source_errors_name_the_key() {
    let with = |from: &str, to: &str| {
        assert!(SOURCES.contains(from), "{from}");
        parse(&SOURCES.replacen(from, to, 1), &[]).unwrap_err().to_string()
    };
    let cases = [
        ("qos: 1", "qos: 2", "ingestion.mqtt[0].qos"),
        ("mqtt://edge:s3cret@127.0.0.1:1883", "mqtts://127.0.0.1:8883", "ingestion.mqtt[0].broker"),
        ("mqtt://edge:s3cret@127.0.0.1:1883", "mqtt://127.0.0.1:99999", "ingestion.mqtt[0].broker"),
        ("factory/{uscc}/line/{line}/telemetry", "factory/+/line/{line}/telemetry", "ingestion.mqtt[0].topic"),
        ("factory/{uscc}/line/{line}/telemetry", "factory/{uscc}/line-{line}/telemetry", "ingestion.mqtt[0].topic"),
        ("factory/{uscc}/line/{line}/telemetry", "factory/{uscc}/#", "ingestion.mqtt[0].topic"),
        ("tenant: \"{uscc}\"", "tenant: \"{region}\"", "ingestion.mqtt[0].tenant"),
        ("dataset: line-telemetry", "dataset: line telemetry", "ingestion.mqtt[0].dataset"),
        ("schedule: \"*/5 * * * *\"", "schedule: \"every 5 minutes\"", "ingestion.pulls[0].schedule"),
        ("schedule: \"*/5 * * * *\"", "schedule: \"61 * * * *\"", "ingestion.pulls[0].schedule"),
        ("records_pointer: /data/items", "records_pointer: data.items", "ingestion.pulls[0].records_pointer"),
        ("url: https://open.example.gov.cn", "url: ftp://open.example.gov.cn", "ingestion.pulls[0].url"),
        ("timeout_seconds: 20", "timeout_seconds: 0", "ingestion.pulls[0].timeout_seconds"),
        ("X-Api-Key: k3y-value", "\"X Api Key\": k3y-value", "ingestion.pulls[0].headers"),
        ("tenant: gov-power", "tenant: gov/power", "ingestion.pulls[0].tenant"),
        ("from_field: updated_at", "from_field: updated_at, extra: 1", "ingestion.pulls[0].cursor"),
    ];
    for (from, to, key) in cases {
        let err = with(from, to);
        assert!(err.starts_with(&format!("config key `{key}")), "{to}: {err}");
    }
    // Names are unique per kind.
    let twice = SOURCES.replace("  pulls:", "    - { name: line-telemetry, broker: 'mqtt://h', topic: a/b, dataset: d, tenant: t }\n  pulls:");
    let err = parse(&twice, &[]).unwrap_err().to_string();
    assert!(err.starts_with("config key `ingestion.mqtt[1].name`"), "{err}");
    // Client ids are unique: two connections with one id take the session from each other.
    let same_id = SOURCES.replace("  pulls:", "    - { name: other, broker: 'mqtt://h', topic: a/b, dataset: d, tenant: t, client_id: brain-textile-line-telemetry }\n  pulls:");
    let err = parse(&same_id, &[]).unwrap_err().to_string();
    assert!(err.starts_with("config key `ingestion.mqtt[1].client_id`"), "{err}");
    // A header value is a secret: errors name the header, never the value.
    let err = with("X-Api-Key: k3y-value", "X-Api-Key: \"k3y\\nvalue\"");
    assert!(err.contains("X-Api-Key") && !err.contains("k3y"), "{err}");
}

#[test]
fn topic_and_name_templates() {
    assert_eq!(topic_template_placeholders("factory/{uscc}/line/{line}/telemetry").unwrap(), ["uscc", "line"]);
    assert_eq!(topic_template_placeholders("plain/topic").unwrap(), Vec::<&str>::new());
    assert!(topic_template_placeholders("a/{x}/{x}").unwrap_err().contains("twice"));
    assert!(topic_template_placeholders("$SYS/broker").is_err());
    assert!(topic_template_placeholders("a/{1x}").is_err());
    assert!(topic_template_placeholders("").is_err());
    assert_eq!(name_template_placeholders("{uscc}").unwrap(), ["uscc"]);
    assert_eq!(name_template_placeholders("telemetry-{line}-{kind}").unwrap(), ["line", "kind"]);
    assert!(name_template_placeholders("a{b").is_err());
    assert!(name_template_placeholders("").is_err());
    assert!(name_template_placeholders(&"x".repeat(65)).is_err());
}

#[test]
fn mqtt_broker_urls() {
    let b = parse_mqtt_broker("mqtt://broker.local").unwrap();
    assert_eq!((b.host.as_str(), b.port, b.username), ("broker.local", 1883, None));
    let b = parse_mqtt_broker("mqtt://[::1]:1884").unwrap();
    assert_eq!((b.host.as_str(), b.port), ("::1", 1884));
    assert!(parse_mqtt_broker("mqtt://host:1883/path").is_err());
    assert!(parse_mqtt_broker("mqtt://:1883").is_err());
    assert!(parse_mqtt_broker("http://host").is_err());
}

#[test]
fn printed_config_hides_source_secrets() {
    let config = parse(SOURCES, &[]).unwrap();
    let printed = to_redacted_yaml(&config).unwrap();
    assert!(!printed.contains("k3y-value"), "{printed}");
    assert!(!printed.contains("s3cret"), "{printed}");
    assert!(printed.contains("X-Api-Key: '***'") || printed.contains("X-Api-Key: \"***\""), "{printed}");
    parse(&printed, &[]).unwrap();
}

#[test]
fn peers_come_from_yaml_or_env_and_are_checked() {
    let config = parse("", &vars(&[("BRAIN_COMMON__PEERS__GOVERNANCE", "http://brain-governance:50051")])).unwrap();
    assert_eq!(config.common.peers["governance"], "http://brain-governance:50051");
    let err = parse("common:\n  peers:\n    governence: http://x:1\n", &[]).unwrap_err().to_string();
    assert!(err.contains("common.peers.governence") && err.contains("governance"), "{err}");
    let err = parse("common:\n  peers:\n    governance: brain-governance:50051\n", &[]).unwrap_err().to_string();
    assert!(err.contains("http:// or https://"), "{err}");
}

#[test]
fn trust_keys_default_under_the_data_dir_and_ranges_are_checked() {
    let config = parse("common:\n  data_dir: /var/lib/brain/\n", &[]).unwrap();
    assert_eq!(config.trust.jwt_key_path(&config.common), "/var/lib/brain/jwt-signing.pem");
    assert_eq!(config.trust.ledger_key_path(&config.common), "/var/lib/brain/ledger-signing.pem");
    let config = parse("trust:\n  ledger_signing_key_file: /run/secrets/ledger.pem\n", &[]).unwrap();
    assert_eq!(config.trust.ledger_key_path(&config.common), "/run/secrets/ledger.pem");
    let err = parse("trust:\n  lockout_threshold: 1\n", &[]).unwrap_err().to_string();
    assert!(err.contains("trust.lockout_threshold") && err.contains("3..=20"), "{err}");
}

#[test]
fn kafka_security_is_checked_and_its_password_never_printed() {
    let vars = vars(&[
        ("BRAIN_BUS__KAFKA_SECURITY__PROTOCOL", "sasl_ssl"),
        ("BRAIN_BUS__KAFKA_SECURITY__SASL_MECHANISM", "SCRAM-SHA-512"),
        ("BRAIN_BUS__KAFKA_SECURITY__SASL_USERNAME", "brain-textile"),
        ("BRAIN_BUS__KAFKA_SECURITY__SASL_PASSWORD", "hunter2-hunter2"),
        ("BRAIN_BUS__KAFKA_SECURITY__SSL_CA_LOCATION", "/etc/brain/tls/kafka/ca.crt"),
    ]);
    let config = parse("", &vars).unwrap();
    assert_eq!(config.bus.kafka_security.protocol, KafkaProtocol::SaslSsl);
    let printed = to_redacted_yaml(&config).unwrap();
    assert!(!printed.contains("hunter2") && printed.contains("sasl_password: '***'"), "{printed}");

    let err = parse("bus:\n  kafka_security:\n    ssl_ca_location: /ca.pem\n", &[]).unwrap_err().to_string();
    assert!(err.contains("bus.kafka_security.ssl_ca_location") && err.contains("ssl or sasl_ssl"), "{err}");
    let err = parse("bus:\n  kafka_security:\n    protocol: sasl_plaintext\n    sasl_mechanism: GSSAPI\n", &[]).unwrap_err().to_string();
    assert!(err.contains("PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"), "{err}");
    let err = parse("bus:\n  kafka_security:\n    protocol: ssl\n    ssl_certificate_location: /c.pem\n", &[]).unwrap_err().to_string();
    assert!(err.contains("needs its key"), "{err}");
}

#[test]
fn service_tls_needs_its_three_files_and_peers_of_the_matching_scheme() {
    let files = "common:\n  tls:\n    cert_file: /etc/brain/tls/service/tls.crt\n    key_file: /etc/brain/tls/service/tls.key\n    ca_file: /etc/brain/tls/service/ca.crt\n";
    let config = parse(&format!("{files}  peers:\n    trust: https://brain-trust:50051\n"), &[]).unwrap();
    assert!(config.common.tls.enabled());
    assert_eq!((config.common.tls.client_auth, config.common.tls.reload_seconds), (ClientAuth::Required, 60));
    let config = parse(files, &vars(&[("BRAIN_COMMON__TLS__CLIENT_AUTH", "optional")])).unwrap();
    assert_eq!(config.common.tls.client_auth, ClientAuth::Optional);
    assert!(!parse("", &[]).unwrap().common.tls.enabled(), "plaintext by default");

    let err = parse(&format!("{files}  peers:\n    trust: http://brain-trust:50051\n"), &[]).unwrap_err().to_string();
    assert!(err.contains("common.peers.trust") && err.contains("must start with https://"), "{err}");
    let err = parse("common:\n  peers:\n    trust: https://brain-trust:50051\n", &[]).unwrap_err().to_string();
    assert!(err.contains("common.peers.trust") && err.contains("needs common.tls"), "{err}");
    let err = parse("common:\n  tls:\n    cert_file: /etc/brain/tls/service/tls.crt\n", &[]).unwrap_err().to_string();
    assert!(err.contains("common.tls.key_file") && err.contains("together"), "{err}");
    let err = parse(&format!("{files}    reload_seconds: 0\n"), &[]).unwrap_err().to_string();
    assert!(err.contains("common.tls.reload_seconds"), "{err}");
    let err = parse(&format!("{files}    client_auth: sometimes\n"), &[]).unwrap_err().to_string();
    assert!(err.contains("client_auth"), "{err}");
}
