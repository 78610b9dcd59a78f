//! Inserts that carry no precondition, sent to the database together: a change's audit
//! entries, webhook deliveries, link tokens and mail go in one round trip instead of one each.
//!
//! On PostgreSQL the statements become one statement of data-modifying common table
//! expressions (`WITH w0 AS (INSERT …), w1 AS (INSERT …) INSERT …`): one statement is atomic
//! by itself, and every part of it sees the same snapshot (none reads another's rows). The
//! extended protocol takes one statement per message, so this is the only way to send several
//! with their parameters at once. On SQLite the statements are joined with `;` and sqlx binds
//! their `?` parameters in order across them, running them one after another on the
//! connection's thread: one hand-over to that thread instead of one per statement.

use sea_orm::sea_query::{InsertStatement, PostgresQueryBuilder, SqliteQueryBuilder};
use sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::StoreError;

/// PostgreSQL takes at most 65,535 parameters in one statement and SQLite 32,766; a batch
/// above this many is sent in several (inside the caller's transaction, so still all or
/// nothing).
const MAX_PARAMS: usize = 30_000;

/// Inserts to send together, each built once for the backend as it is added.
#[derive(Debug)]
pub struct Batch {
    backend: DatabaseBackend,
    built: Vec<(String, Vec<Value>)>,
}

impl Batch {
    /// An empty batch for `backend`.
    pub fn new(backend: DatabaseBackend) -> Batch {
        Batch {
            backend,
            built: Vec::new(),
        }
    }

    /// Adds an insert.
    pub fn push(&mut self, insert: &InsertStatement) {
        let (sql, values) = match self.backend {
            DatabaseBackend::Postgres => insert.build(PostgresQueryBuilder),
            _ => insert.build(SqliteQueryBuilder),
        };
        self.built.push((sql, values.0));
    }

    /// Adds inserts, in order.
    pub fn extend(&mut self, inserts: impl IntoIterator<Item = InsertStatement>) {
        for insert in inserts {
            self.push(&insert);
        }
    }

    /// Whether the whole batch fits one statement.
    pub fn fits_one_statement(&self) -> bool {
        self.built.iter().map(|(_, v)| v.len()).sum::<usize>() <= MAX_PARAMS
    }

    /// The statements to send, in order: one where the parameters allow.
    pub fn statements(self) -> Vec<Statement> {
        let backend = self.backend;
        let mut out = Vec::new();
        let mut group: Vec<(String, Vec<Value>)> = Vec::new();
        let mut params = 0;
        for (sql, values) in self.built {
            if !group.is_empty() && params + values.len() > MAX_PARAMS {
                out.push(combine(backend, std::mem::take(&mut group)));
                params = 0;
            }
            params += values.len();
            group.push((sql, values));
        }
        if !group.is_empty() {
            out.push(combine(backend, group));
        }
        out
    }

    /// Sends the batch on `db`: a transaction, or on PostgreSQL a connection where the batch
    /// is the whole change and fits one statement.
    pub async fn run<C: ConnectionTrait>(self, db: &C) -> Result<(), StoreError> {
        for statement in self.statements() {
            db.execute_raw(statement).await?;
        }
        Ok(())
    }
}

/// One statement of several inserts.
fn combine(backend: DatabaseBackend, mut group: Vec<(String, Vec<Value>)>) -> Statement {
    if group.len() == 1 {
        let (sql, values) = group.remove(0);
        return Statement::from_sql_and_values(backend, sql, values);
    }
    let mut sql = String::new();
    let mut values: Vec<Value> = Vec::new();
    let last = group.len() - 1;
    for (i, (s, v)) in group.into_iter().enumerate() {
        match backend {
            DatabaseBackend::Postgres => {
                let s = renumber(&s, values.len());
                if i == 0 {
                    sql.push_str("WITH ");
                }
                if i < last {
                    sql.push_str(&format!("w{i} AS ({s}), "));
                } else {
                    // The last insert is the statement the expressions belong to.
                    sql.truncate(sql.len() - 2);
                    sql.push(' ');
                    sql.push_str(&s);
                }
            }
            _ => {
                if i > 0 {
                    sql.push_str(";\n");
                }
                sql.push_str(&s);
            }
        }
        values.extend(v);
    }
    Statement::from_sql_and_values(backend, sql, values)
}

/// PostgreSQL's `$n` placeholders of one built statement, moved up by `offset` so that its
/// parameters follow those of the statements before it. Quoted identifiers and string
/// literals are copied as they are.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) => {
                let mut n = 0usize;
                while let Some(d) = chars.peek().and_then(|d| d.to_digit(10)) {
                    n = n * 10 + d as usize;
                    chars.next();
                }
                out.push('$');
                out.push_str(&(n + offset).to_string());
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{Alias, Query};

    fn insert(table: &str, a: i64, b: &str) -> InsertStatement {
        Query::insert()
            .into_table(Alias::new(table))
            .columns([Alias::new("a"), Alias::new("b")])
            .values_panic([a.into(), b.into()])
            .to_owned()
    }

    #[test]
    fn postgres_gets_one_statement_of_ctes_numbered_through() {
        let mut b = Batch::new(DatabaseBackend::Postgres);
        b.push(&insert("t1", 1, "x"));
        b.push(&insert("t2", 2, "y"));
        b.push(&insert("t3", 3, "z"));
        let s = b.statements();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].sql,
            r#"WITH w0 AS (INSERT INTO "t1" ("a", "b") VALUES ($1, $2)), w1 AS (INSERT INTO "t2" ("a", "b") VALUES ($3, $4)) INSERT INTO "t3" ("a", "b") VALUES ($5, $6)"#
        );
        let values = s[0].values.as_ref().unwrap().0.clone();
        assert_eq!(
            values,
            vec![
                Value::from(1i64),
                "x".into(),
                2i64.into(),
                "y".into(),
                3i64.into(),
                "z".into()
            ]
        );
    }

    #[test]
    fn sqlite_gets_the_statements_joined_with_their_values_in_order() {
        let mut b = Batch::new(DatabaseBackend::Sqlite);
        b.push(&insert("t1", 1, "x"));
        b.push(&insert("t2", 2, "y"));
        let s = b.statements();
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].sql,
            "INSERT INTO \"t1\" (\"a\", \"b\") VALUES (?, ?);\nINSERT INTO \"t2\" (\"a\", \"b\") VALUES (?, ?)"
        );
        assert_eq!(s[0].values.as_ref().unwrap().0.len(), 4);
    }

    #[test]
    fn a_batch_over_the_parameter_limit_is_split_in_order() {
        let mut b = Batch::new(DatabaseBackend::Postgres);
        // Two parameters each: 20,000 inserts are 40,000 parameters, over one statement's.
        for i in 0..20_000 {
            b.push(&insert("t", i, "v"));
        }
        assert!(!b.fits_one_statement());
        let s = b.statements();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].values.as_ref().unwrap().0.len(), 30_000);
        assert_eq!(s[1].values.as_ref().unwrap().0.len(), 10_000);
        // The second statement numbers its parameters from 1 again.
        assert!(s[1].sql.starts_with(r#"WITH w0 AS (INSERT INTO "t" ("a", "b") VALUES ($1, $2)), w1 AS (INSERT INTO "t" ("a", "b") VALUES ($3, $4))"#));
        assert!(s[1].sql.ends_with("VALUES ($9999, $10000)"));
    }

    #[test]
    fn one_insert_is_sent_as_it_is() {
        let mut b = Batch::new(DatabaseBackend::Postgres);
        b.push(&insert("t", 1, "x"));
        let s = b.statements();
        assert_eq!(s[0].sql, r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2)"#);
    }

    #[test]
    fn renumbering_leaves_quoted_text_alone() {
        assert_eq!(
            renumber(
                r#"SELECT $1, '$2 costs', "col$3", $10 FROM t WHERE a = $2"#,
                5
            ),
            r#"SELECT $6, '$2 costs', "col$3", $15 FROM t WHERE a = $7"#
        );
        assert_eq!(renumber("VALUES ($1)", 0), "VALUES ($1)");
        // A doubled quote inside a literal closes and reopens it: still inside.
        assert_eq!(renumber("'it''s $1' || $1", 1), "'it''s $1' || $2");
    }
}
