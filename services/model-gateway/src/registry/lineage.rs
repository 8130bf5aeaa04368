//! Models loaded with their versions and the grade they inherit from their ancestors.

use super::domain::{Model, Version, max_grade};
use super::store::ModelRow;
use super::{Registry, RegistryError};
use brain_governance::domain::Grade;
use std::collections::HashMap;

/// The tree has three levels; a longer chain is a corrupt store, not a reason to loop.
const MAX_DEPTH: usize = 3;

impl Registry {
    /// One model with its versions, or `None`.
    pub async fn load(&self, name: &str) -> Result<Option<Model>, RegistryError> {
        let Some(row) = self.store.model_row(name).await? else { return Ok(None) };
        Ok(self.assemble(vec![row]).await?.pop())
    }

    /// The models of `rows` (in their order) with their versions and inherited grades: the
    /// ancestors not among them are read too, then every version in one query.
    pub(crate) async fn assemble(&self, rows: Vec<ModelRow>) -> Result<Vec<Model>, RegistryError> {
        let mut known: HashMap<String, ModelRow> = rows.iter().map(|r| (r.name.clone(), r.clone())).collect();
        for _ in 0..MAX_DEPTH {
            let mut missing: Vec<String> = known.values().filter_map(|r| r.parent.clone()).filter(|p| !known.contains_key(p)).collect();
            missing.sort();
            missing.dedup();
            if missing.is_empty() {
                break;
            }
            for row in self.store.model_rows(&missing).await? {
                known.insert(row.name.clone(), row);
            }
        }
        let names: Vec<String> = known.keys().cloned().collect();
        let mut versions: HashMap<String, Vec<Version>> = HashMap::new();
        for (model, version) in self.store.versions(&names).await? {
            versions.entry(model).or_default().push(version);
        }
        rows.into_iter()
            .map(|row| {
                let inherited_grade = match &row.parent {
                    Some(parent) => lineage_grade(parent, &known, &versions, 0)?,
                    None => None,
                };
                let versions = versions.get(&row.name).cloned().unwrap_or_default();
                Ok(Model {
                    name: row.name,
                    level: row.level,
                    parent: row.parent,
                    description: row.description,
                    owner_tenant: row.owner_tenant,
                    created_at: row.created_at,
                    versions,
                    inherited_grade,
                })
            })
            .collect()
    }
}

/// The highest grade of `name`'s versions and its ancestors'.
fn lineage_grade(name: &str, known: &HashMap<String, ModelRow>, versions: &HashMap<String, Vec<Version>>, depth: usize) -> Result<Option<Grade>, RegistryError> {
    let corrupt = |reason: &str| RegistryError::Corrupt { model: name.to_owned(), reason: reason.to_owned() };
    if depth >= MAX_DEPTH {
        return Err(corrupt("its ancestry is deeper than foundation → industry → scenario"));
    }
    let row = known.get(name).ok_or_else(|| corrupt("an ancestor is missing"))?;
    let own = max_grade(versions.get(name).into_iter().flatten().map(|v| v.trained_on_grade));
    let above = match &row.parent {
        Some(parent) => lineage_grade(parent, known, versions, depth + 1)?,
        None => None,
    };
    Ok(max_grade([own, above]))
}
