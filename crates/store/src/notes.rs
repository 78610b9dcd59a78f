//! Officers' notes on a request: written through the one commit path (`Write::AddNote`),
//! read back opened, each with its author's name. The text is sealed, bound to the note.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::StoreError;
use crate::entities::{request_note, staff_user};
use crate::sealed::RowCipher;

/// Where a note's text is sealed for (its row and column).
pub fn text_aad(pid: Uuid) -> String {
    format!("request_note:{pid}:text")
}

/// A note as the request page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// When it was written.
    pub at: DateTime<Utc>,
    /// Its author's display name (empty for an account since removed).
    pub author: String,
    /// What it says.
    pub text: String,
}

/// A request's notes, oldest first.
pub async fn of_request<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
    request_id: i64,
) -> Result<Vec<Note>, StoreError> {
    let rows = request_note::Entity::find()
        .filter(request_note::Column::RequestId.eq(request_id))
        .order_by_asc(request_note::Column::Id)
        .all(db)
        .await?;
    let authors: Vec<i64> = rows.iter().filter_map(|n| n.author_id).collect();
    let names: Vec<(i64, String)> = if authors.is_empty() {
        Vec::new()
    } else {
        staff_user::Entity::find()
            .select_only()
            .column(staff_user::Column::Id)
            .column(staff_user::Column::Name)
            .filter(staff_user::Column::Id.is_in(authors))
            .into_tuple()
            .all(db)
            .await?
    };
    rows.into_iter()
        .map(|n| {
            Ok(Note {
                at: n.created_at,
                author: n
                    .author_id
                    .and_then(|a| names.iter().find(|(id, _)| *id == a))
                    .map(|(_, name)| name.clone())
                    .unwrap_or_default(),
                text: cipher.open(&text_aad(n.pid), &n.text)?,
            })
        })
        .collect()
}

/// Re-seals every note not sealed under the current key; returns how many changed (a note
/// changed meanwhile is left for the next run: compare-and-set).
pub async fn reseal_all<C: ConnectionTrait>(
    db: &C,
    cipher: &RowCipher,
) -> Result<usize, StoreError> {
    let (mut after, mut changed) = (0_i64, 0);
    loop {
        let rows = request_note::Entity::find()
            .filter(request_note::Column::Id.gt(after))
            .order_by_asc(request_note::Column::Id)
            .limit(200)
            .all(db)
            .await?;
        let Some(last) = rows.last() else {
            return Ok(changed);
        };
        after = last.id;
        for note in rows {
            if cipher.is_current(&note.text) {
                continue;
            }
            let aad = text_aad(note.pid);
            let plain = cipher.open(&aad, &note.text)?;
            let r = request_note::Entity::update_many()
                .col_expr(
                    request_note::Column::Text,
                    Expr::value(cipher.seal(&aad, &plain)),
                )
                .filter(request_note::Column::Id.eq(note.id))
                .filter(request_note::Column::Text.eq(note.text))
                .exec(db)
                .await?;
            changed += r.rows_affected as usize;
        }
    }
}
