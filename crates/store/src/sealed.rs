//! Personal data sealed at rest. The request columns that hold what a subject wrote or is
//! (name, kana, addresses, phone, details, correction contents, agent, messages, the answer)
//! and the outbox's recipient and mail context are stored as `sealed:v1:<key id>:…`: AES-256-GCM
//! under the vault's current key, bound to the row and the column (associated data
//! `request:<pid>:<column>`), so a value copied into another row or column does not open. A
//! database reader, a backup or a `pg_dump` holds none of it in the clear.
//!
//! Requests are found by public id and number (not personal data), and by e-mail address
//! through `email_norm`, which holds a keyed hash of the normalised address (a blind index),
//! never the address: duplicate detection and the staff search compare hashes.
//!
//! Values stored before sealing began are read as they are; `madoguchi keys rotate` seals
//! them (and re-seals everything under a new key).

use std::sync::{Arc, RwLock};

use madoguchi_vault::{KeyRing, Sealed, TEXT_PREFIX};
use sea_orm::ActiveValue::{self, Set};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::{outbox, request};
use crate::secrets::keyed;

/// Seals and opens personal data columns, and computes the blind index of an address.
#[derive(Clone)]
pub struct RowCipher {
    keys: Arc<RwLock<KeyRing>>,
    index_key: Arc<[u8]>,
}

impl std::fmt::Debug for RowCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowCipher").finish_non_exhaustive()
    }
}

/// Applies `$m!(field)` to every sealed request column that is a `String`, and `$o!(field)`
/// to every one that is an `Option<String>`: one list, for sealing and for opening.
macro_rules! request_columns {
    ($m:ident, $o:ident) => {
        $m!(subject_name);
        $m!(subject_kana);
        $m!(email);
        $m!(details);
        $o!(phone);
        $o!(postal_address);
        $o!(current_content);
        $o!(correct_content);
        $o!(agent);
        $o!(subject_message);
        $o!(subject_reply);
        $o!(subject_email);
        $o!(answer);
    };
}

impl RowCipher {
    /// A cipher over the service's key ring (shared, so a rotation applies at once) and the
    /// key of the blind index (derived from the service secret).
    pub fn new(keys: Arc<RwLock<KeyRing>>, index_key: Arc<[u8]>) -> Self {
        RowCipher { keys, index_key }
    }

    /// Seals `plain` for the place named by `aad`.
    pub fn seal(&self, aad: &str, plain: &str) -> String {
        self.keys
            .read()
            .expect("key ring lock")
            .seal(plain.as_bytes(), aad.as_bytes())
            .to_text()
    }

    /// Opens a value sealed for `aad`; a value stored before sealing began is returned as it is.
    pub fn open(&self, aad: &str, stored: &str) -> Result<String, StoreError> {
        let Some(sealed) = Sealed::from_text(stored) else {
            return Ok(stored.to_owned());
        };
        let plain = self
            .keys
            .read()
            .expect("key ring lock")
            .open(&sealed, aad.as_bytes())
            .map_err(|e| StoreError::Corrupt(format!("{aad}: {e}")))?;
        String::from_utf8(plain).map_err(|_| StoreError::Corrupt(format!("{aad}: not text")))
    }

    /// Whether a stored value is sealed under the current key (nothing to re-seal).
    pub fn is_current(&self, stored: &str) -> bool {
        let current = self
            .keys
            .read()
            .expect("key ring lock")
            .current_id()
            .to_owned();
        stored
            .strip_prefix(TEXT_PREFIX)
            .and_then(|rest| rest.split(':').next())
            .is_some_and(|id| id == current)
    }

    /// The blind index of a normalised e-mail address: what `requests.email_norm` holds and
    /// what lookups by address compare.
    pub fn email_index(&self, normalized: &str) -> String {
        format!(
            "ei1:{}",
            keyed(&self.index_key, &format!("email-index:v1:{normalized}"))
        )
    }

    /// Seals the personal data columns of a request row about to be written (the columns
    /// that are set; `pid` must be set).
    pub fn seal_request(&self, am: &mut request::ActiveModel) {
        let ActiveValue::Set(pid) = am.pid.clone() else {
            panic!("a request row is sealed with its public id set");
        };
        let aad = |column: &str| format!("request:{pid}:{column}");
        macro_rules! one {
            ($f:ident) => {
                if let ActiveValue::Set(v) = &am.$f {
                    am.$f = Set(self.seal(&aad(stringify!($f)), v));
                }
            };
        }
        macro_rules! opt {
            ($f:ident) => {
                if let ActiveValue::Set(Some(v)) = &am.$f {
                    am.$f = Set(Some(self.seal(&aad(stringify!($f)), v)));
                }
            };
        }
        request_columns!(one, opt);
        // The date of birth goes to its text column; the DATE column is left empty.
        if let ActiveValue::Set(Some(d)) = am.subject_birth_date {
            am.subject_birth_date_sealed = Set(Some(self.seal(
                &aad("subject_birth_date"),
                &d.format("%Y-%m-%d").to_string(),
            )));
            am.subject_birth_date = Set(None);
        }
    }

    /// Seals one column's value for the request `pid` (updates that set a single column).
    pub fn seal_request_column(&self, pid: Uuid, column: &str, plain: &str) -> String {
        self.seal(&format!("request:{pid}:{column}"), plain)
    }

    /// Opens the personal data columns of a request row as read from the database.
    pub fn open_request(&self, mut m: request::Model) -> Result<request::Model, StoreError> {
        let pid = m.pid;
        let aad = |column: &str| format!("request:{pid}:{column}");
        macro_rules! one {
            ($f:ident) => {
                m.$f = self.open(&aad(stringify!($f)), &m.$f)?;
            };
        }
        macro_rules! opt {
            ($f:ident) => {
                if let Some(v) = &m.$f {
                    m.$f = Some(self.open(&aad(stringify!($f)), v)?);
                }
            };
        }
        request_columns!(one, opt);
        if let Some(sealed) = m.subject_birth_date_sealed.take() {
            let text = self.open(&aad("subject_birth_date"), &sealed)?;
            m.subject_birth_date = Some(
                chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                    StoreError::Corrupt(format!("request {pid}: subject_birth_date"))
                })?,
            );
        }
        Ok(m)
    }

    /// Whether every sealed column of a stored row is sealed under the current key.
    pub fn request_is_current(&self, m: &request::Model) -> bool {
        let mut current = true;
        macro_rules! one {
            ($f:ident) => {
                current &= self.is_current(&m.$f);
            };
        }
        macro_rules! opt {
            ($f:ident) => {
                if let Some(v) = &m.$f {
                    current &= self.is_current(v);
                }
            };
        }
        request_columns!(one, opt);
        if let Some(v) = &m.subject_birth_date_sealed {
            current &= self.is_current(v);
        }
        current && m.email_norm.starts_with("ei1:") && m.subject_birth_date.is_none()
    }

    /// The update that re-seals a stored row under the current key (a row stored before
    /// sealing began included: its columns are sealed and its address replaced by the blind
    /// index). `None` when the row is current already.
    pub fn reseal_request(
        &self,
        raw: &request::Model,
    ) -> Result<Option<request::ActiveModel>, StoreError> {
        if self.request_is_current(raw) {
            return Ok(None);
        }
        let email_norm = if raw.email_norm.starts_with("ei1:") {
            raw.email_norm.clone()
        } else {
            self.email_index(&raw.email_norm)
        };
        let open = self.open_request(raw.clone())?;
        let mut am = request::ActiveModel {
            pid: Set(open.pid),
            ..Default::default()
        };
        macro_rules! one {
            ($f:ident) => {
                am.$f = Set(open.$f.clone());
            };
        }
        macro_rules! opt {
            ($f:ident) => {
                if open.$f.is_some() {
                    am.$f = Set(open.$f.clone());
                }
            };
        }
        request_columns!(one, opt);
        am.subject_birth_date = Set(open.subject_birth_date);
        self.seal_request(&mut am);
        am.pid = ActiveValue::NotSet;
        am.email_norm = Set(email_norm);
        Ok(Some(am))
    }

    /// The outbox columns sealed for message `message_id`: the recipient and the context.
    pub fn seal_message(
        &self,
        message_id: &str,
        recipient: &str,
        context: &str,
    ) -> (String, String) {
        (
            self.seal(&format!("outbox:{message_id}:recipient"), recipient),
            self.seal(&format!("outbox:{message_id}:context"), context),
        )
    }

    /// Opens an outbox row's recipient and context.
    pub fn open_message(&self, mut m: outbox::Model) -> Result<outbox::Model, StoreError> {
        m.recipient = self.open(&format!("outbox:{}:recipient", m.message_id), &m.recipient)?;
        m.context = self.open(&format!("outbox:{}:context", m.message_id), &m.context)?;
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> RowCipher {
        RowCipher::new(
            Arc::new(RwLock::new(KeyRing::generate("k1"))),
            Arc::from(&b"index-key"[..]),
        )
    }

    #[test]
    fn a_sealed_value_opens_only_in_its_own_place() {
        let c = cipher();
        let s = c.seal("request:a:subject_name", "山田 花子");
        assert!(!s.contains("山田"));
        assert_eq!(c.open("request:a:subject_name", &s).unwrap(), "山田 花子");
        assert!(c.open("request:b:subject_name", &s).is_err(), "another row");
        assert!(c.open("request:a:details", &s).is_err(), "another column");
        assert_eq!(c.open("request:a:x", "legacy").unwrap(), "legacy");
        assert!(c.is_current(&s) && !c.is_current("legacy"));
    }

    #[test]
    fn the_blind_index_is_keyed_and_stable() {
        let c = cipher();
        assert_eq!(c.email_index("a@example.jp"), c.email_index("a@example.jp"));
        assert_ne!(c.email_index("a@example.jp"), c.email_index("b@example.jp"));
        assert!(!c.email_index("a@example.jp").contains("example"));
        let other = RowCipher::new(
            Arc::new(RwLock::new(KeyRing::generate("k1"))),
            Arc::from(&b"another-key"[..]),
        );
        assert_ne!(
            c.email_index("a@example.jp"),
            other.email_index("a@example.jp")
        );
    }
}
