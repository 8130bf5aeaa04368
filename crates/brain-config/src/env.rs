//! `BRAIN_<SECTION>__<KEY>[__<SUBKEY>]` environment variables override YAML keys.
//! Double underscores separate levels so that single underscores stay inside key names
//! (`BRAIN_COMMON__HTTP_ADDR` → `common.http_addr`).

use crate::ConfigError;
use serde_yaml::{Mapping, Value};

const PREFIX: &str = "BRAIN_";

pub(crate) fn apply_overrides(tree: &mut Value, vars: &[(String, String)]) -> Result<(), ConfigError> {
    let mut overrides: Vec<&(String, String)> =
        vars.iter().filter(|(name, _)| name.starts_with(PREFIX) && name.contains("__")).collect();
    // Deterministic order so that conflicting variables always resolve the same way.
    overrides.sort();
    for (name, raw) in overrides {
        let path: Vec<String> = name[PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env { var: name.clone(), reason: "empty key segment".into() });
        }
        let value = parse_scalar(raw);
        set_path(tree, &path, value).map_err(|reason| ConfigError::Env { var: name.clone(), reason })?;
    }
    Ok(())
}

/// Values are read as YAML scalars so numbers and booleans keep their types; anything that
/// does not parse as a scalar (or parses as a structure) stays a plain string.
fn parse_scalar(raw: &str) -> Value {
    match serde_yaml::from_str::<Value>(raw) {
        Ok(v @ (Value::Bool(_) | Value::Number(_) | Value::String(_))) => v,
        _ => Value::String(raw.to_owned()),
    }
}

fn set_path(tree: &mut Value, path: &[String], value: Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("no key".into());
    };
    let mut node = tree;
    for key in parents {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let Value::Mapping(map) = node else {
            return Err(format!("`{key}` is under a value that is not a section"));
        };
        node = map.entry(Value::String(key.clone())).or_insert(Value::Null);
    }
    if node.is_null() {
        *node = Value::Mapping(Mapping::new());
    }
    let Value::Mapping(map) = node else {
        return Err(format!("`{last}` is under a value that is not a section"));
    };
    map.insert(Value::String(last.clone()), value);
    Ok(())
}
