//! The snapshot of running copies: writes that change rows of an active copy's source keep
//! their previous version in `copy_preserved`, and items that arrive in the source later are
//! listed in `copy_excluded`.

use crate::Result;
use crate::metadata::{Backend, ItemChange, Tx};

use super::tree::SOURCE_COLUMNS;

/// An active copy and the chain of its source rows a write is about to touch.
pub(crate) struct Scope {
    pub job_id: String,
    /// The items of the touched chain (the item and the folders above it) the copy's source holds.
    pub chain: Vec<i64>,
    /// Whether it holds the touched item itself.
    pub holds_item: bool,
}

impl Tx {
    /// Keeps a running copy's view of its source across one item change (see [`ItemChange`]).
    pub(crate) async fn snapshot_change(&mut self, change: ItemChange) -> Result<()> {
        if self.active_copies().await?.is_empty() {
            return Ok(());
        }
        match change {
            // An item new to the tree is left out by every copy whose source holds it now.
            ItemChange::Created { id } | ItemChange::Published { id, .. } => {
                for scope in self.scopes_of(id).await? {
                    if scope.holds_item {
                        self.exclude_from_copy(&scope.job_id, id).await?;
                    }
                }
            }
            ItemChange::Updated { id }
            | ItemChange::Renamed { id }
            | ItemChange::ContentReplaced { id }
            | ItemChange::Deleted { id } => {
                for scope in self.scopes_of(id).await? {
                    if scope.holds_item {
                        self.preserve_for_copy(&scope.job_id, &[id]).await?;
                    }
                }
            }
            // Copies that hold the item keep it where it was; copies that only hold where it
            // goes leave it out.
            ItemChange::Moved { id, to } | ItemChange::Restored { id, to } => {
                let before: Vec<_> = self
                    .scopes_of(id)
                    .await?
                    .into_iter()
                    .filter(|s| s.holds_item)
                    .collect();
                for scope in &before {
                    self.preserve_for_copy(&scope.job_id, &[id]).await?;
                }
                for scope in self.scopes_of(to).await? {
                    if scope.holds_item && !before.iter().any(|b| b.job_id == scope.job_id) {
                        self.exclude_from_copy(&scope.job_id, id).await?;
                    }
                }
            }
            ItemChange::Purged { id } => {
                for (job_id, _) in self.active_copies().await? {
                    let held = self
                        .scopes_of(id)
                        .await?
                        .iter()
                        .any(|s| s.job_id == job_id && s.holds_item);
                    if held || self.subtree_has_preserved(&job_id, id).await? {
                        self.preserve_subtree_for_copy(&job_id, id).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Keeps a running copy's view of the folders above a change whose totals it changes.
    pub(crate) async fn snapshot_totals(&mut self, chain: &[i64]) -> Result<()> {
        for scope in self.scopes_in_chain(chain).await? {
            self.preserve_for_copy(&scope.job_id, &scope.chain).await?;
        }
        Ok(())
    }

    /// Active copies (job id, source root), read once per transaction.
    pub(crate) async fn active_copies(&mut self) -> Result<Vec<(String, i64)>> {
        if let Some(a) = &self.active_copies {
            return Ok(a.clone());
        }
        if self.backend == Backend::Postgres {
            // Shared with other writes; excludes a copy being accepted at this very moment.
            sqlx::query("SELECT value FROM copy_epoch WHERE id = 1 FOR SHARE")
                .execute(self.conn())
                .await?;
        }
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, source_id FROM copy_jobs WHERE status IN ('notStarted', 'inProgress')",
        )
        .fetch_all(self.conn())
        .await?;
        self.active_copies = Some(rows.clone());
        Ok(rows)
    }

    /// The running copies whose source (as each copy sees it) holds `item` or a folder above it,
    /// each with those of them it holds.
    pub(crate) async fn scopes_of(&mut self, item: i64) -> Result<Vec<Scope>> {
        if self.active_copies().await?.is_empty() {
            return Ok(vec![]);
        }
        let chain: Vec<i64> = self
            .ancestors(item)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        self.scopes_in_chain(&chain).await
    }

    /// Like [`Tx::scopes_of`], for an item whose chain up to the top is known.
    pub(crate) async fn scopes_in_chain(&mut self, chain: &[i64]) -> Result<Vec<Scope>> {
        let mut scopes = vec![];
        for (job_id, source) in self.active_copies().await? {
            let mut known = std::collections::HashMap::new();
            let mut held = vec![];
            for &id in chain {
                if self.in_copy_source(&job_id, source, id, &mut known).await? {
                    held.push(id);
                }
            }
            if !held.is_empty() {
                let holds_item = held.first() == chain.first();
                scopes.push(Scope {
                    job_id,
                    chain: held,
                    holds_item,
                });
            }
        }
        Ok(scopes)
    }

    /// True when `id` lies in a running copy's source as it was when the copy was accepted:
    /// walking up through the versions the copy preserved (for items that moved since) reaches
    /// the source root, through no item the copy leaves out. `known` remembers walks already made.
    async fn in_copy_source(
        &mut self,
        job_id: &str,
        source: i64,
        id: i64,
        known: &mut std::collections::HashMap<i64, bool>,
    ) -> Result<bool> {
        let mut path = vec![];
        let mut current = Some(id);
        let found = loop {
            let Some(id) = current else { break false };
            if id == source {
                break true;
            }
            if let Some(&k) = known.get(&id) {
                break k;
            }
            if path.len() > 100_000 {
                break false;
            }
            path.push(id);
            let (preserved, preserved_parent, live_parent, excluded): (
                Option<i64>,
                Option<i64>,
                Option<i64>,
                Option<i64>,
            ) = sqlx::query_as(
                "SELECT (SELECT 1 FROM copy_preserved WHERE job_id = $1 AND id = $2), \
                     (SELECT parent_id FROM copy_preserved WHERE job_id = $1 AND id = $2), \
                     (SELECT parent_id FROM items WHERE id = $2), \
                     (SELECT 1 FROM copy_excluded WHERE job_id = $1 AND id = $2)",
            )
            .bind(job_id)
            .bind(id)
            .fetch_one(self.conn())
            .await?;
            if excluded.is_some() {
                break false;
            }
            current = if preserved.is_some() {
                preserved_parent
            } else {
                live_parent
            };
        };
        for id in path {
            known.insert(id, found);
        }
        Ok(found)
    }

    /// True when a copy preserved any row of the subtree of `root` (an item that moved out of its
    /// source, say), so that deleting the subtree must keep it.
    pub(crate) async fn subtree_has_preserved(&mut self, job_id: &str, root: i64) -> Result<bool> {
        let row: Option<(i64,)> = sqlx::query_as(
            "WITH RECURSIVE sub(id) AS (SELECT CAST($2 AS BIGINT) \
             UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) \
             SELECT 1 FROM copy_preserved p WHERE p.job_id = $1 AND p.id IN (SELECT id FROM sub) LIMIT 1",
        )
        .bind(job_id)
        .bind(root)
        .fetch_optional(self.conn())
        .await?;
        Ok(row.is_some())
    }

    /// Refreshes the planner's statistics of a table after bulk writes (PostgreSQL; SQLite's
    /// planner does not need them).
    pub async fn refresh_statistics(&mut self, table: &str) -> Result<()> {
        if self.backend == Backend::Postgres {
            sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Keeps the current version of rows for a copy, unless it kept one already.
    pub(crate) async fn preserve_for_copy(&mut self, job_id: &str, ids: &[i64]) -> Result<()> {
        for id in ids {
            let sql = format!(
                "INSERT INTO copy_preserved (job_id, {SOURCE_COLUMNS}) SELECT $1, {SOURCE_COLUMNS} FROM items \
                 WHERE id = $2 ON CONFLICT (job_id, id) DO NOTHING"
            );
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(job_id)
                .bind(id)
                .execute(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Keeps the current version of a whole subtree for a copy (before it is deleted).
    pub(crate) async fn preserve_subtree_for_copy(
        &mut self,
        job_id: &str,
        root: i64,
    ) -> Result<()> {
        let sql = format!(
            "WITH RECURSIVE sub(id) AS (SELECT CAST($2 AS BIGINT) \
             UNION ALL SELECT i.id FROM items i JOIN sub ON i.parent_id = sub.id) \
             INSERT INTO copy_preserved (job_id, {SOURCE_COLUMNS}) SELECT $1, {SOURCE_COLUMNS} FROM items \
             WHERE id IN (SELECT id FROM sub) ON CONFLICT (job_id, id) DO NOTHING"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(job_id)
            .bind(root)
            .execute(self.conn())
            .await?;
        Ok(())
    }

    pub(crate) async fn exclude_from_copy(&mut self, job_id: &str, id: i64) -> Result<()> {
        sqlx::query("INSERT INTO copy_excluded (job_id, id) VALUES ($1, $2) ON CONFLICT (job_id, id) DO NOTHING")
            .bind(job_id)
            .bind(id)
            .execute(self.conn())
            .await?;
        Ok(())
    }
}
