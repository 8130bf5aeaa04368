//! Reading the registry: one model, or a page of them. Every authenticated caller reads the
//! catalog; endpoint addresses and key names only the owner tenant and the platform.

use super::authz;
use super::domain::{Model, NAME_RULE, valid_name, violation};
use super::store::ListFilter;
use super::{Registry, RegistryError};
use brain_auth::Principal;

pub const DEFAULT_PAGE: u32 = 100;
pub const MAX_PAGE: u32 = 1000;

/// One page of models, and the token of the next (None on the last page).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub models: Vec<Model>,
    pub next_page_token: Option<String>,
}

/// `model` as `caller` may see it.
pub fn shown_to(caller: &Principal, mut model: Model) -> Model {
    if !authz::sees_addresses(caller, &model.owner_tenant) {
        for version in &mut model.versions {
            version.endpoints = version.endpoints.iter().map(|e| e.redacted()).collect();
        }
    }
    model
}

impl Registry {
    pub async fn model(&self, caller: &Principal, name: &str) -> Result<Model, RegistryError> {
        authz::may_read(caller)?;
        Ok(shown_to(caller, self.existing(name).await?))
    }

    /// Models by name; `page_token` is the last name of the previous page.
    pub async fn list(&self, caller: &Principal, filter: &ListFilter, page_size: Option<u32>, page_token: Option<&str>) -> Result<Page, RegistryError> {
        authz::may_read(caller)?;
        let mut violations = Vec::new();
        let size = page_size.filter(|n| *n != 0).unwrap_or(DEFAULT_PAGE);
        if size > MAX_PAGE {
            violations.push(violation("page_size", "range", format!("must be 1-{MAX_PAGE}")));
        }
        let after = page_token.unwrap_or_default();
        if !after.is_empty() && !valid_name(after) {
            violations.push(violation("page_token", "page_token", "not a token this API issued"));
        }
        if filter.parent.as_deref().is_some_and(|p| !valid_name(p)) {
            violations.push(violation("parent", "name", NAME_RULE));
        }
        RegistryError::check("listing", violations)?;
        let limit = i64::from(size);
        let rows = self.store.list(filter, after, limit).await?;
        let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= limit;
        let next_page_token = if full { rows.last().map(|r| r.name.clone()) } else { None };
        let models = self.assemble(rows).await?.into_iter().map(|m| shown_to(caller, m)).collect();
        Ok(Page { models, next_page_token })
    }
}
