//! Copy job rows: accepting, claiming, progress, ending and forgetting jobs.

use super::CopyJobRecord;
use crate::Result;
use crate::metadata::{Backend, Tx};

impl Tx {
    pub async fn insert_copy_job(&mut self, j: &CopyJobRecord) -> Result<()> {
        if self.backend == Backend::Postgres {
            // Waits for writes in flight; later writes see this job (and preserve for it).
            sqlx::query("UPDATE copy_epoch SET value = value + 1 WHERE id = 1")
                .execute(self.conn())
                .await?;
        }
        sqlx::query(
            "INSERT INTO copy_jobs (id, caller_id, client_request_id, status, source_drive, source_id, \
             dest_drive, dest_parent_id, name, children_only, conflict, total_items, copied_items, \
             placeholder_id, depth, parent_cursor, key_cursor, cancel_requested, result_id, error_code, \
             error_message, error_target, owner, heartbeat_at, created_at, updated_at, finished_at, \
             include_versions) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
             $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
        )
        .bind(&j.id)
        .bind(&j.caller_id)
        .bind(&j.client_request_id)
        .bind(&j.status)
        .bind(&j.source_drive)
        .bind(j.source_id)
        .bind(&j.dest_drive)
        .bind(j.dest_parent_id)
        .bind(&j.name)
        .bind(j.children_only)
        .bind(&j.conflict)
        .bind(j.total_items)
        .bind(j.copied_items)
        .bind(j.placeholder_id)
        .bind(j.depth)
        .bind(j.parent_cursor)
        .bind(&j.key_cursor)
        .bind(j.cancel_requested)
        .bind(j.result_id)
        .bind(&j.error_code)
        .bind(&j.error_message)
        .bind(&j.error_target)
        .bind(&j.owner)
        .bind(j.heartbeat_at)
        .bind(j.created_at)
        .bind(j.updated_at)
        .bind(j.finished_at)
        .bind(j.include_versions)
        .execute(self.conn())
        .await?;
        self.active_copies = None;
        Ok(())
    }

    pub async fn copy_job(&mut self, id: &str) -> Result<Option<CopyJobRecord>> {
        Ok(sqlx::query_as("SELECT * FROM copy_jobs WHERE id = $1")
            .bind(id)
            .fetch_optional(self.conn())
            .await?)
    }

    /// The job a caller started with this request key, if any.
    pub async fn copy_job_for_request(
        &mut self,
        caller_id: &str,
        request_key: &str,
    ) -> Result<Option<CopyJobRecord>> {
        Ok(sqlx::query_as(
            "SELECT * FROM copy_jobs WHERE caller_id = $1 AND client_request_id = $2",
        )
        .bind(caller_id)
        .bind(request_key)
        .fetch_optional(self.conn())
        .await?)
    }

    /// Frees a request key held by a job accepted before `before`: past the retry window, the
    /// same key starts a new copy.
    pub async fn release_request_key(
        &mut self,
        caller_id: &str,
        request_key: &str,
        before: i64,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE copy_jobs SET client_request_id = NULL \
             WHERE caller_id = $1 AND client_request_id = $2 AND created_at < $3",
        )
        .bind(caller_id)
        .bind(request_key)
        .bind(before)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    /// The jobs no live runner holds but maybe `node`, oldest first: a cheap look before
    /// [`Tx::claim_copy_jobs`].
    pub async fn claimable_copy_jobs(
        &mut self,
        stale_before: i64,
        node: &str,
    ) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM copy_jobs WHERE status IN ('notStarted', 'inProgress') \
             AND (owner IS NULL OR owner = $2 OR heartbeat_at < $1) ORDER BY created_at",
        )
        .bind(stale_before)
        .bind(node)
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Makes `owner` the runner of up to `limit` jobs, oldest first, that no live runner holds
    /// (unowned, owned by `owner` but not in `running`, or whose heartbeat is older than
    /// `stale_before`), and returns their ids. On PostgreSQL the candidates are read
    /// `FOR UPDATE SKIP LOCKED`, so nodes claiming at once each take different jobs, and a job
    /// whose batch is being written (its row is locked by [`Tx::hold_copy_job`]) is passed over
    /// without waiting; SQLite's single writer serialises claims by itself.
    pub async fn claim_copy_jobs(
        &mut self,
        owner: &str,
        now: i64,
        stale_before: i64,
        limit: usize,
        running: &std::collections::HashSet<String>,
    ) -> Result<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let fetch = i64::try_from(limit + running.len()).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT id FROM copy_jobs WHERE status IN ('notStarted', 'inProgress') \
             AND (owner IS NULL OR owner = $2 OR heartbeat_at < $1) \
             ORDER BY created_at, id LIMIT $3{lock}"
        );
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(stale_before)
            .bind(owner)
            .bind(fetch)
            .fetch_all(self.conn())
            .await?;
        let mut claimed = Vec::new();
        for (id,) in rows {
            if claimed.len() == limit {
                break;
            }
            if running.contains(&id) {
                continue;
            }
            sqlx::query("UPDATE copy_jobs SET owner = $2, heartbeat_at = $3 WHERE id = $1")
                .bind(&id)
                .bind(owner)
                .bind(now)
                .execute(self.conn())
                .await?;
            claimed.push(id);
        }
        Ok(claimed)
    }

    /// Gives a job `owner` runs back, so that any runner (another node, or this one after a
    /// restart) takes it up at once instead of waiting for its heartbeat to go stale.
    pub async fn release_copy_job(&mut self, id: &str, owner: &str) -> Result<()> {
        sqlx::query("UPDATE copy_jobs SET owner = NULL WHERE id = $1 AND owner = $2")
            .bind(id)
            .bind(owner)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    /// Renews `owner`'s hold on a running job for this transaction; false when the job is no
    /// longer running or another runner took it over. On PostgreSQL the job's row stays locked
    /// until the transaction ends, so no other runner can take it over meanwhile.
    pub async fn hold_copy_job(&mut self, id: &str, owner: &str, now: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE copy_jobs SET heartbeat_at = $3 WHERE id = $1 AND owner = $2 \
             AND status IN ('notStarted', 'inProgress')",
        )
        .bind(id)
        .bind(owner)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Saves a running job's progress (and its runner's heartbeat).
    pub async fn save_copy_progress(&mut self, j: &CopyJobRecord, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE copy_jobs SET status = $2, copied_items = $3, placeholder_id = $4, depth = $5, \
             parent_cursor = $6, key_cursor = $7, heartbeat_at = $8, updated_at = $8 WHERE id = $1",
        )
        .bind(&j.id)
        .bind(&j.status)
        .bind(j.copied_items)
        .bind(j.placeholder_id)
        .bind(j.depth)
        .bind(j.parent_cursor)
        .bind(&j.key_cursor)
        .bind(now)
        .execute(self.conn())
        .await?;
        Ok(())
    }

    pub async fn finish_copy_job(&mut self, j: &CopyJobRecord, now: i64) -> Result<()> {
        sqlx::query(
            "UPDATE copy_jobs SET status = $2, result_id = $3, error_code = $4, error_message = $5, \
             error_target = $6, copied_items = $7, finished_at = $8, updated_at = $8 WHERE id = $1",
        )
        .bind(&j.id)
        .bind(&j.status)
        .bind(j.result_id)
        .bind(&j.error_code)
        .bind(&j.error_message)
        .bind(&j.error_target)
        .bind(j.copied_items)
        .bind(now)
        .execute(self.conn())
        .await?;
        self.active_copies = None;
        Ok(())
    }

    /// Asks a running job to stop; false when it is not running.
    pub async fn request_copy_cancel(&mut self, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE copy_jobs SET cancel_requested = 1 WHERE id = $1 AND status IN ('notStarted', 'inProgress')",
        )
        .bind(id)
        .execute(self.conn())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Drops up to `limit` rows of a finished job's working state; returns how many went. The
    /// state of a job still running is kept.
    pub async fn forget_copy_state(&mut self, job_id: &str, limit: i64) -> Result<u64> {
        if self.copy_job(job_id).await?.is_some_and(|j| j.is_active()) {
            return Ok(0);
        }
        let mut n = 0;
        for table in ["copy_map", "copy_preserved", "copy_excluded"] {
            let key = if table == "copy_map" { "old_id" } else { "id" };
            let sql = format!(
                "DELETE FROM {table} WHERE job_id = $1 AND {key} IN \
                 (SELECT {key} FROM {table} WHERE job_id = $1 LIMIT $2)"
            );
            n += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(job_id)
                .bind(limit)
                .execute(self.conn())
                .await?
                .rows_affected();
        }
        Ok(n)
    }

    /// Finished jobs whose working state is still there, oldest first.
    pub async fn finished_jobs_with_state(&mut self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT j.id FROM copy_jobs j WHERE j.status IN ('completed', 'failed') AND \
             (EXISTS (SELECT 1 FROM copy_map m WHERE m.job_id = j.id) OR \
              EXISTS (SELECT 1 FROM copy_preserved p WHERE p.job_id = j.id) OR \
              EXISTS (SELECT 1 FROM copy_excluded x WHERE x.job_id = j.id)) ORDER BY j.finished_at",
        )
        .fetch_all(self.conn())
        .await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Forgets finished jobs older than `before` (their monitors then answer 404).
    pub async fn expire_copy_jobs(&mut self, before: i64) -> Result<u64> {
        Ok(sqlx::query(
            "DELETE FROM copy_jobs WHERE status IN ('completed', 'failed') AND finished_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM copy_map m WHERE m.job_id = copy_jobs.id)",
        )
        .bind(before)
        .execute(self.conn())
        .await?
        .rows_affected())
    }
}
