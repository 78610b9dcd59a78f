use sea_orm::DatabaseBackend;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(AuditEntries::Table)
                .if_not_exists()
                .col(big_pk_auto(AuditEntries::Id))
                .col(string(AuditEntries::Chain))
                .col(big_integer(AuditEntries::Seq))
                .col(big_integer_null(AuditEntries::RequestId))
                .col(timestamp_with_time_zone(AuditEntries::At))
                .col(string(AuditEntries::ActorKind))
                .col(string_null(AuditEntries::ActorId))
                .col(string_null(AuditEntries::Role))
                .col(string(AuditEntries::Action))
                .col(text(AuditEntries::Detail))
                .col(string_null(AuditEntries::Ip))
                .col(string_null(AuditEntries::UserAgent))
                .col(string(AuditEntries::PrevHash))
                .col(string(AuditEntries::Hash))
                .to_owned(),
        )
        .await?;
        // One entry per position in a chain: two writers cannot both extend the same head.
        m.create_index(
            Index::create()
                .name("audit_chain_seq")
                .table(AuditEntries::Table)
                .col(AuditEntries::Chain)
                .col(AuditEntries::Seq)
                .unique()
                .to_owned(),
        )
        .await?;
        // A request's timeline.
        m.create_index(
            Index::create()
                .name("audit_request")
                .table(AuditEntries::Table)
                .col(AuditEntries::RequestId)
                .col(AuditEntries::Seq)
                .to_owned(),
        )
        .await?;
        // Heads of the chains that do not belong to a request (staff logins, settings, system).
        m.create_table(
            Table::create()
                .table(AuditChains::Table)
                .if_not_exists()
                .col(string(AuditChains::Chain).primary_key())
                .col(big_integer(AuditChains::Seq))
                .col(string(AuditChains::Head))
                .to_owned(),
        )
        .await?;
        // Periodic checkpoints: a chain of their own over the heads of every chain that moved.
        m.create_table(
            Table::create()
                .table(AuditCheckpoints::Table)
                .if_not_exists()
                .col(big_integer(AuditCheckpoints::Seq).primary_key())
                .col(timestamp_with_time_zone(AuditCheckpoints::At))
                .col(big_integer(AuditCheckpoints::UptoId))
                .col(text(AuditCheckpoints::Heads))
                .col(string(AuditCheckpoints::PrevHash))
                .col(string(AuditCheckpoints::Hash))
                .to_owned(),
        )
        .await?;
        // Defence in depth: the database itself refuses to rewrite history.
        let conn = m.get_connection();
        match m.get_database_backend() {
            DatabaseBackend::Postgres => {
                conn.execute_unprepared(
                    "CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$ \
                     BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$ LANGUAGE plpgsql",
                )
                .await?;
                for table in ["audit_entries", "audit_checkpoints"] {
                    conn.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} \
                         FOR EACH ROW EXECUTE FUNCTION audit_append_only()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in ["audit_entries", "audit_checkpoints"] {
                    for op in ["UPDATE", "DELETE"] {
                        conn.execute_unprepared(&format!(
                            "CREATE TRIGGER IF NOT EXISTS {table}_no_{} BEFORE {op} ON {table} \
                             BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
                            op.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(AuditCheckpoints::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AuditChains::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(AuditEntries::Table).to_owned())
            .await?;
        if m.get_database_backend() == DatabaseBackend::Postgres {
            m.get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_append_only()")
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Id,
    Chain,
    Seq,
    RequestId,
    At,
    ActorKind,
    ActorId,
    Role,
    Action,
    Detail,
    Ip,
    UserAgent,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditChains {
    Table,
    Chain,
    Seq,
    Head,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    Seq,
    At,
    UptoId,
    Heads,
    PrevHash,
    Hash,
}
