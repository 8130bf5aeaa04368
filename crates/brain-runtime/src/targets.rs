//! Target selection: `all` or a comma-separated list of service names.

use crate::{RuntimeError, ServiceSpec};

/// The specs selected by `list` (`all` selects every service), in registry order.
pub fn select<'a>(registry: &'a [ServiceSpec], list: &str) -> Result<Vec<&'a ServiceSpec>, RuntimeError> {
    let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err(RuntimeError::NoTarget);
    }
    if names.contains(&"all") {
        return Ok(registry.iter().collect());
    }
    for name in &names {
        if !registry.iter().any(|spec| spec.name == *name) {
            let known = std::iter::once("all").chain(registry.iter().map(|s| s.name)).collect::<Vec<_>>().join(", ");
            return Err(RuntimeError::UnknownTarget { name: (*name).to_owned(), known });
        }
    }
    Ok(registry.iter().filter(|spec| names.contains(&spec.name)).collect())
}
