//! Configuration of a brain: one YAML file, a section per service plus `common`, with
//! `BRAIN_<SECTION>__<KEY>` environment overrides. Unknown keys are errors; validation
//! names the key and the reason.

mod env;
mod error;
mod model;
mod redact;

pub use error::ConfigError;
pub use model::*;
pub use redact::redact_url;

use std::path::Path;

/// Loads the configuration from an optional YAML file and the process environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    let vars: Vec<(String, String)> = std::env::vars().collect();
    load_from(file, &vars)
}

/// Loads from an optional file and explicit `(name, value)` environment pairs (for tests).
pub fn load_from(file: Option<&Path>, vars: &[(String, String)]) -> Result<Config, ConfigError> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?,
        None => String::new(),
    };
    parse(&text, vars)
}

/// Parses YAML text, applies environment overrides, checks keys, fills defaults, validates.
pub fn parse(yaml: &str, vars: &[(String, String)]) -> Result<Config, ConfigError> {
    let mut tree: serde_yaml::Value = if yaml.trim().is_empty() {
        serde_yaml::Value::Mapping(serde_yaml::Mapping::new())
    } else {
        serde_yaml::from_str(yaml).map_err(|e| ConfigError::Syntax { reason: e.to_string() })?
    };
    env::apply_overrides(&mut tree, vars)?;
    let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
        let key = e.path().to_string();
        ConfigError::Invalid { key, reason: e.into_inner().to_string() }
    })?;
    config.validate()?;
    Ok(config)
}

/// The configuration as YAML with secrets redacted (`brain config print`).
pub fn to_redacted_yaml(config: &Config) -> Result<String, ConfigError> {
    let mut shown = config.clone();
    shown.common.database = redact_url(&shown.common.database);
    shown.common.cache = redact_url(&shown.common.cache);
    shown.common.bus = redact_url(&shown.common.bus);
    shown.ingestion = shown.ingestion.redacted();
    if !shown.trust.bootstrap_admin_password.is_empty() {
        shown.trust.bootstrap_admin_password = "***".into();
    }
    if !shown.bus.kafka_security.sasl_password.is_empty() {
        shown.bus.kafka_security.sasl_password = "***".into();
    }
    serde_yaml::to_string(&shown).map_err(|e| ConfigError::Syntax { reason: e.to_string() })
}

#[cfg(test)]
mod tests;
