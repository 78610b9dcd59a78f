//! A posted staff form read whole, by field name: the settings and incident forms share it
//! (checkboxes are present only when ticked; values are trimmed).

use axum::body::Bytes;

use crate::error::{AppError, PageError};

/// A form's fields, by name.
pub(crate) struct Fields(pub(crate) Vec<(String, String)>);

impl Fields {
    /// Reads an urlencoded body; one that does not parse is a bad request.
    pub(crate) fn parse(body: &Bytes) -> Result<Self, PageError> {
        serde_urlencoded::from_bytes(body)
            .map(Fields)
            .map_err(|_| PageError::from(AppError::BadRequest("form".into())))
    }

    /// A field's value, trimmed; empty when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Whether a checkbox was ticked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }
}
