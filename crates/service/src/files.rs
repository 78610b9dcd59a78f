//! Documents: uploads checked by content and sealed with AES-256-GCM before they reach the
//! database, officer and subject reads (each one audited), key rotation and retention.

use chrono::{DateTime, Duration, Utc};
use madoguchi_domain::{self as domain, Actor, AuditOnly, DocumentPurpose, Event, State};
use madoguchi_store::audit::Origin;
use madoguchi_store::change::{NewDocument, Write};
use madoguchi_store::entities::{attachment, request};
use madoguchi_store::requests;
use madoguchi_store::sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use madoguchi_vault::Sealed;
use uuid::Uuid;

use crate::{EventText, Service, ServiceError};

/// Files one staff upload of an answer package may hold.
pub const PACKAGE_MAX_FILES: usize = 20;

/// Why an upload or download was refused. Each has a message for the subject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// Not a PDF, JPEG or PNG by content.
    #[error("only PDF, JPEG and PNG files are accepted")]
    Type,
    /// Over the size limit.
    #[error("the file is larger than allowed")]
    TooLarge,
    /// Over the count limit.
    #[error("too many files")]
    TooMany,
    /// Empty file.
    #[error("the file is empty")]
    Empty,
    /// Uploads are not possible in this state.
    #[error("documents cannot be added at this stage")]
    Closed,
    /// The download window ended.
    #[error("the download period has ended")]
    Expired,
    /// The download limit was reached.
    #[error("the download limit was reached")]
    LimitReached,
    /// The file was deleted under the retention policy.
    #[error("the file was deleted under the retention policy")]
    Deleted,
}

/// A document without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// Public id.
    pub pid: Uuid,
    /// Why it is kept.
    pub purpose: DocumentPurpose,
    /// The uploaded name, for display only.
    pub filename: String,
    /// Content type, from sniffing.
    pub content_type: String,
    /// Size in bytes.
    pub size: i64,
    /// Downloads so far.
    pub downloads: i32,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
    /// Deleted under retention.
    pub deleted: bool,
}

/// The associated data a document's sealed file name is bound to.
fn filename_aad(pid: Uuid) -> String {
    format!("attachment:{pid}:filename")
}

fn to_document(
    cipher: &madoguchi_store::sealed::RowCipher,
    m: &attachment::Model,
) -> Result<Document, ServiceError> {
    Ok(Document {
        pid: m.pid,
        purpose: DocumentPurpose::parse(&m.purpose).unwrap_or(DocumentPurpose::Other),
        // The name a subject gave a file can name them (山田花子_免許証.jpg): sealed too.
        filename: cipher.open(&filename_aad(m.pid), &m.filename)?,
        content_type: m.content_type.clone(),
        size: m.size,
        downloads: m.downloads,
        created_at: m.created_at,
        deleted: m.deleted_at.is_some(),
    })
}

/// Keeps only a harmless display name: no path, no control characters, bounded length.
fn display_name(name: &str, ext: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(80)
        .collect();
    if clean.trim().is_empty() {
        format!("document.{ext}")
    } else {
        clean
    }
}

impl Service {
    /// The files a subject may upload now, by state.
    pub fn accepts_uploads(state: State) -> bool {
        matches!(
            state,
            State::IdentityReview | State::AwaitingIdentity | State::AwaitingInfo
        )
    }

    /// Stores files: each is checked by content, sealed, and recorded on the request's trail.
    /// All or nothing: one bad file rejects the batch, and the files and their entries are
    /// written in one transaction.
    pub async fn upload(
        &self,
        pid: Uuid,
        purpose: DocumentPurpose,
        files: Vec<(String, Vec<u8>)>,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, pid).await?;
        let state = requests::to_domain(&row)?.state;
        let staff = matches!(actor, Actor::Staff { .. });
        let allowed = if purpose == DocumentPurpose::Package {
            staff && state == State::InProgress
        } else {
            Self::accepts_uploads(state)
        };
        if !allowed {
            return Err(ServiceError::File(FileError::Closed));
        }
        if files.is_empty() {
            return Err(ServiceError::File(FileError::Empty));
        }
        // An answer package is the office's own upload, with its own (larger) limits.
        let (max_files, max_bytes) = if purpose == DocumentPurpose::Package {
            (PACKAGE_MAX_FILES, self.config().package_max_bytes)
        } else {
            (
                self.config().upload_max_files,
                self.config().upload_max_bytes,
            )
        };
        if files.len() > max_files {
            return Err(ServiceError::File(FileError::TooMany));
        }
        let mut checked = Vec::new();
        for (name, bytes) in files {
            if bytes.is_empty() {
                return Err(ServiceError::File(FileError::Empty));
            }
            if bytes.len() > max_bytes {
                return Err(ServiceError::File(FileError::TooLarge));
            }
            let kind = domain::sniff(&bytes).ok_or(ServiceError::File(FileError::Type))?;
            checked.push((display_name(&name, kind.extension()), kind, bytes));
        }
        self.store_files(pid, purpose, checked, actor, origin, now)
            .await
    }

    /// Seals checked files and records them on the request's trail, all in one change.
    pub(crate) async fn store_files(
        &self,
        pid: Uuid,
        purpose: DocumentPurpose,
        checked: Vec<(String, madoguchi_domain::FileType, Vec<u8>)>,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<Uuid>, ServiceError> {
        let staff = matches!(actor, Actor::Staff { .. });
        // One change for the whole upload: every file and its entry, or none.
        let mut pids = Vec::new();
        let mut docs = Vec::new();
        let mut events = Vec::new();
        for (name, kind, bytes) in checked {
            let doc_pid = Uuid::new_v4();
            let sealed = self
                .keys
                .read()
                .expect("key ring lock")
                .seal(&bytes, doc_pid.as_bytes());
            let target = format!("document:{doc_pid}");
            events.push(if staff {
                AuditOnly::Attached { target }
            } else {
                AuditOnly::Uploaded { target }
            });
            docs.push(NewDocument {
                pid: doc_pid,
                purpose: purpose.as_str().to_owned(),
                filename: self.cipher.seal(&filename_aad(doc_pid), &name),
                content_type: kind.mime().to_owned(),
                size: bytes.len() as i64,
                key_id: sealed.key_id,
                nonce: sealed.nonce,
                ciphertext: sealed.ciphertext,
            });
            pids.push(doc_pid);
        }
        let writes = vec![Write::AddDocuments(docs)];
        self.record(pid, events, actor, writes, Vec::new(), origin, now)
            .await?;
        Ok(pids)
    }

    /// A request's documents, newest first, without their content.
    pub async fn documents(&self, request_id: i64) -> Result<Vec<Document>, ServiceError> {
        let rows = attachment::Entity::find()
            .select_only()
            .columns([
                attachment::Column::Id,
                attachment::Column::Pid,
                attachment::Column::RequestId,
                attachment::Column::Purpose,
                attachment::Column::Filename,
                attachment::Column::ContentType,
                attachment::Column::Size,
                attachment::Column::KeyId,
                attachment::Column::Nonce,
                attachment::Column::Downloads,
                attachment::Column::CreatedAt,
                attachment::Column::DeletedAt,
            ])
            .column_as(Expr::val(Option::<Vec<u8>>::None), "ciphertext")
            .filter(attachment::Column::RequestId.eq(request_id))
            .order_by_desc(attachment::Column::Id)
            .all(self.db().conn())
            .await?;
        rows.iter().map(|r| to_document(&self.cipher, r)).collect()
    }

    /// Opens a document for staff (inline view): audited as a view of the subject's data.
    pub async fn read_document_as_staff(
        &self,
        request_pid: Uuid,
        doc_pid: Uuid,
        actor: &Actor,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(Document, Vec<u8>), ServiceError> {
        let (row, doc) = self.document_row(request_pid, doc_pid).await?;
        let bytes = self.decrypt(&doc)?;
        let view = AuditOnly::Viewed {
            target: format!("document:{doc_pid}"),
        };
        self.record(
            row.pid,
            vec![view],
            actor,
            Vec::new(),
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok((to_document(&self.cipher, &doc)?, bytes))
    }

    /// The subject downloads a file of the answer: within the window and the limit, counted
    /// and audited in one transaction.
    pub async fn download_package(
        &self,
        request_pid: Uuid,
        doc_pid: Uuid,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<(Document, Vec<u8>), ServiceError> {
        let (row, doc) = self.document_row(request_pid, doc_pid).await?;
        if doc.purpose != DocumentPurpose::Package.as_str() {
            return Err(ServiceError::NotFound);
        }
        let mut files = self
            .deliver(&row, vec![doc], format!("document:{doc_pid}"), origin, now)
            .await?;
        Ok(files.remove(0))
    }

    /// The subject downloads every file of the answer at once (for a ZIP): each counted
    /// against the limit, all or none, with one audit entry naming them.
    pub async fn download_whole_package(
        &self,
        request_pid: Uuid,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Document, Vec<u8>)>, ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, request_pid).await?;
        let docs = attachment::Entity::find()
            .filter(attachment::Column::RequestId.eq(row.id))
            .filter(attachment::Column::Purpose.eq(DocumentPurpose::Package.as_str()))
            .filter(attachment::Column::DeletedAt.is_null())
            .order_by_asc(attachment::Column::Id)
            .all(self.db().conn())
            .await?;
        if docs.is_empty() {
            return Err(ServiceError::NotFound);
        }
        let target = format!(
            "documents:{}",
            docs.iter()
                .map(|d| d.pid.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        self.deliver(&row, docs, target, origin, now).await
    }

    /// Checks the window, decrypts, then counts and audits the downloads in one transaction.
    async fn deliver(
        &self,
        row: &request::Model,
        docs: Vec<attachment::Model>,
        target: String,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<Vec<(Document, Vec<u8>)>, ServiceError> {
        let state = requests::to_domain(row)?.state;
        if !state.is_fulfilment() {
            return Err(ServiceError::NotFound);
        }
        let closed = row.closed_at.unwrap_or(now);
        let retention = self.settings().await?.retention;
        if now > closed + Duration::days(i64::from(retention.download_days)) {
            return Err(ServiceError::File(FileError::Expired));
        }
        // Decrypted before counting: a file that cannot be read must not use up a download.
        let files = docs
            .iter()
            .map(|d| Ok((to_document(&self.cipher, d)?, self.decrypt(d)?)))
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let count = Write::CountDownloads {
            ids: docs.iter().map(|d| d.id).collect(),
            limit: i32::try_from(retention.download_limit).unwrap_or(i32::MAX),
        };
        let event = AuditOnly::Downloaded { target };
        self.record(
            row.pid,
            vec![event],
            &Actor::Subject,
            vec![count],
            Vec::new(),
            origin,
            now,
        )
        .await?;
        Ok(files)
    }

    async fn document_row(
        &self,
        request_pid: Uuid,
        doc_pid: Uuid,
    ) -> Result<(request::Model, attachment::Model), ServiceError> {
        let row = requests::find_by_pid(self.db().conn(), &self.cipher, request_pid).await?;
        let doc = attachment::Entity::find()
            .filter(attachment::Column::Pid.eq(doc_pid))
            .filter(attachment::Column::RequestId.eq(row.id))
            .one(self.db().conn())
            .await?
            .ok_or(ServiceError::NotFound)?;
        Ok((row, doc))
    }

    fn decrypt(&self, doc: &attachment::Model) -> Result<Vec<u8>, ServiceError> {
        let Some(ciphertext) = doc.ciphertext.clone() else {
            return Err(ServiceError::File(FileError::Deleted));
        };
        let sealed = Sealed {
            key_id: doc.key_id.clone(),
            nonce: doc.nonce.clone(),
            ciphertext,
        };
        self.keys
            .read()
            .expect("key ring lock")
            .open(&sealed, doc.pid.as_bytes())
            .map_err(|e| {
                ServiceError::Store(madoguchi_store::StoreError::Corrupt(format!(
                    "document {}: {e}",
                    doc.pid
                )))
            })
    }

    /// Re-encrypts every file not sealed under the current key. Returns how many.
    pub async fn reencrypt_documents(&self) -> Result<usize, ServiceError> {
        let current = self
            .keys
            .read()
            .expect("key ring lock")
            .current_id()
            .to_owned();
        let stale = attachment::Entity::find()
            .filter(attachment::Column::KeyId.ne(current))
            .filter(attachment::Column::Ciphertext.is_not_null())
            .all(self.db().conn())
            .await?;
        let n = stale.len();
        for doc in stale {
            let plain = self.decrypt(&doc)?;
            let sealed = self
                .keys
                .read()
                .expect("key ring lock")
                .seal(&plain, doc.pid.as_bytes());
            // Only if still there under the key it was read with: a document that retention
            // deleted meanwhile must not get its content back.
            attachment::Entity::update_many()
                .col_expr(attachment::Column::KeyId, Expr::value(sealed.key_id))
                .col_expr(attachment::Column::Nonce, Expr::value(sealed.nonce))
                .col_expr(
                    attachment::Column::Ciphertext,
                    Expr::value(Some(sealed.ciphertext)),
                )
                .filter(attachment::Column::Id.eq(doc.id))
                .filter(attachment::Column::KeyId.eq(doc.key_id.clone()))
                .filter(attachment::Column::DeletedAt.is_null())
                .exec(self.db().conn())
                .await?;
        }
        Ok(n)
    }

    /// Re-seals personal data in request rows and the outbox under the current key (rows
    /// stored before sealing began included). Returns (requests, messages) changed.
    pub async fn reseal_personal_data(&self) -> Result<(usize, usize), ServiceError> {
        let conn = self.db().conn();
        let requests = requests::reseal_all(conn, self.cipher()).await?;
        let messages = madoguchi_store::outbox::reseal_all(conn, self.cipher()).await?;
        // What connectors gathered and the provision register are sealed the same way.
        madoguchi_store::gather::reseal_all(conn, self.cipher()).await?;
        madoguchi_store::provisions::reseal_all(conn, self.cipher()).await?;
        madoguchi_store::notes::reseal_all(conn, self.cipher()).await?;
        madoguchi_store::incidents::reseal_all(conn, self.cipher()).await?;
        madoguchi_store::complaints::reseal_all(conn, self.cipher()).await?;
        madoguchi_store::incidents::reseal_people(conn, self.cipher()).await?;
        madoguchi_store::webhooks::reseal_all(conn, self.cipher()).await?;
        // Document file names (the contents are re-encrypted by `reencrypt_documents`).
        let names = attachment::Entity::find()
            .select_only()
            .columns([
                attachment::Column::Id,
                attachment::Column::Pid,
                attachment::Column::Filename,
            ])
            .into_tuple::<(i64, Uuid, String)>()
            .all(conn)
            .await?;
        for (id, pid, stored) in names {
            if self.cipher.is_current(&stored) {
                continue;
            }
            let plain = self.cipher.open(&filename_aad(pid), &stored)?;
            attachment::Entity::update_many()
                .col_expr(
                    attachment::Column::Filename,
                    Expr::value(self.cipher.seal(&filename_aad(pid), &plain)),
                )
                .filter(attachment::Column::Id.eq(id))
                .filter(attachment::Column::Filename.eq(stored))
                .exec(conn)
                .await?;
        }
        // The page images from before live on in SQLite's log until it is checkpointed.
        self.db().checkpoint().await?;
        Ok((requests, messages))
    }

    /// Replaces the key ring (after rotation) for this process.
    pub fn set_keys(&self, keys: madoguchi_vault::KeyRing) {
        *self.keys.write().expect("key ring lock") = keys;
    }

    /// Deletes identity documents of requests closed more than the retention period ago
    /// (rejected requests at once), and what connectors gathered for them. Answers stay until
    /// their download window ends. Each deletion is on the request's trail; the trail never
    /// held the content.
    pub async fn retention_sweep(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let retention = self.settings().await?.retention;
        let keep = Duration::days(i64::from(retention.documents_days));
        let download = Duration::days(i64::from(retention.download_days));
        let candidates = attachment::Entity::find()
            .select_only()
            .columns([
                attachment::Column::Id,
                attachment::Column::Pid,
                attachment::Column::RequestId,
                attachment::Column::Purpose,
            ])
            .filter(attachment::Column::DeletedAt.is_null())
            .into_tuple::<(i64, Uuid, i64, String)>()
            .all(self.db().conn())
            .await?;
        let mut deleted = 0;
        for (id, doc_pid, request_id, purpose) in candidates {
            let row = requests::find_by_id(self.db().conn(), &self.cipher, request_id).await?;
            let Some(closed) = row.closed_at else {
                continue;
            };
            let due = if purpose == DocumentPurpose::Package.as_str() {
                closed + download.max(keep)
            } else if row.state == State::Rejected.as_str() {
                closed
            } else {
                closed + keep
            };
            if due > now {
                continue;
            }
            // The content goes and the trail says so in one transaction; a document another
            // instance deleted first is skipped (its entry is that instance's).
            let event = AuditOnly::DocumentDeleted {
                target: format!("document:{doc_pid}"),
            };
            match self
                .record(
                    row.pid,
                    vec![event],
                    &Actor::System,
                    vec![Write::DeleteDocument { id }],
                    Vec::new(),
                    &Origin::default(),
                    now,
                )
                .await
            {
                Ok(_) => {}
                Err(ServiceError::File(FileError::Deleted)) => continue,
                Err(e) => return Err(e),
            }
            deleted += 1;
        }
        let gathered = self.purge_gathered(keep, now).await?;
        let complaints =
            self.purge_closed_complaints(now).await? + self.purge_incident_people(now).await?;
        Ok(deleted + gathered + complaints + self.purge_closed_requests(now).await?)
    }

    /// The subject marks their evidence complete (moves an `awaiting_identity` request back
    /// to review).
    pub async fn submit_evidence(
        &self,
        pid: Uuid,
        origin: &Origin,
        now: DateTime<Utc>,
    ) -> Result<request::Model, ServiceError> {
        self.act(
            pid,
            None,
            &Event::SubmitEvidence,
            &Actor::Subject,
            &EventText::default(),
            origin,
            now,
        )
        .await
    }
}
