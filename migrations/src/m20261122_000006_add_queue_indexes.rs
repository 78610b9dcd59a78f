use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The open states, exactly as the queue's default filter lists them, so that both databases
/// match the partial index's predicate to the query's.
const OPEN: &str = "'submitted', 'identity_review', 'awaiting_identity', 'awaiting_payment', 'in_progress', 'awaiting_info'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        // The queue's default view: open requests by due date. Closed requests, which pile up
        // over the years, are not in the index at all.
        conn.execute_unprepared(&format!(
            "CREATE INDEX IF NOT EXISTS requests_open_due ON requests (due_on, id) WHERE state IN ({OPEN})"
        ))
        .await?;
        // The queue filtered by state and kind.
        conn.execute_unprepared("CREATE INDEX IF NOT EXISTS requests_state_kind_due ON requests (state, kind, due_on, id)")
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let conn = m.get_connection();
        conn.execute_unprepared("DROP INDEX IF EXISTS requests_state_kind_due")
            .await?;
        conn.execute_unprepared("DROP INDEX IF EXISTS requests_open_due")
            .await?;
        Ok(())
    }
}
