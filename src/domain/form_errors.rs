//! Validation failures, field by field, as Flask-Security reports them.

use std::collections::BTreeMap;

use serde::Serialize;

/// Field errors plus form-wide ones.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct FormErrors {
    pub fields: BTreeMap<String, Vec<String>>,
    pub general: Vec<String>,
}

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    pub fn add_general(&mut self, message: impl Into<String>) {
        self.general.push(message.into());
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.general.is_empty()
    }

    pub fn has(&self, field: &str) -> bool {
        self.fields.contains_key(field)
    }

    /// Every message, form-wide ones first (the JSON `errors` list).
    pub fn all_messages(&self) -> Vec<String> {
        self.general
            .iter()
            .chain(self.fields.values().flatten())
            .cloned()
            .collect()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::default();
        e.add(field, message);
        e
    }
}
