//! The physical limit: a bare `INSERT … SELECT` of the same number of rows, in the same engine,
//! into a table indexed like graphdrive's own items table. Two row shapes are timed: a narrow
//! five-column row, and a row of graphdrive's own items columns filled with values of the sizes
//! a copy writes (a 34-character drive id, 36-character principal ids, a 64-character hash).

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection, Executor};

/// The shape of the rows a baseline copies.
#[derive(Clone, Copy, Debug)]
pub enum Rows {
    /// `(id, parent, name, size, hash)` with a unique `(parent, name)` index.
    Narrow,
    /// graphdrive's items columns and indexes.
    Items,
}

impl Rows {
    fn columns(self) -> &'static str {
        match self {
            Rows::Narrow => {
                "id BIGINT PRIMARY KEY, parent_id BIGINT NOT NULL, name_key TEXT NOT NULL, \
                 size BIGINT NOT NULL, hash TEXT"
            }
            Rows::Items => {
                "id BIGINT PRIMARY KEY, drive_id TEXT NOT NULL, parent_id BIGINT, name TEXT NOT NULL, \
                 name_key TEXT NOT NULL, is_folder INTEGER NOT NULL, size BIGINT NOT NULL, \
                 child_count BIGINT NOT NULL, descendants BIGINT NOT NULL, \
                 descendant_files BIGINT NOT NULL, blob_hash TEXT, \
                 mime_type TEXT, created_at BIGINT NOT NULL, modified_at BIGINT NOT NULL, \
                 created_by TEXT NOT NULL, modified_by TEXT NOT NULL, fs_created_at BIGINT NOT NULL, \
                 fs_modified_at BIGINT NOT NULL, etag_rev BIGINT NOT NULL, ctag_rev BIGINT NOT NULL"
            }
        }
    }

    /// The values of row `i` (folders of 100 rows), as a `SELECT` list over `n(i)`.
    fn values(self) -> &'static str {
        match self {
            Rows::Narrow => "i, i / 100, 'file-' || i, 10, 'e3b0c44298fc1c149afbf4c8996fb924'",
            Rows::Items => {
                "i, 'b!abcdefghijklmnopqrstuvwxyz012345', i / 100, 'file-' || i || '.txt', \
                 'file-' || i || '.txt', 0, 10, 0, 0, 0, \
                 'e3b0c44298fc1c149afbf4c8996fb924e3b0c44298fc1c149afbf4c8996fb924', 'text/plain', \
                 1764000000000, 1764000000000, '6f1c2a3e-1111-4222-8333-944455556666', \
                 '6f1c2a3e-1111-4222-8333-944455556666', 1764000000000, 1764000000000, 1, 1"
            }
        }
    }

    fn indexes(self) -> &'static [&'static str] {
        match self {
            Rows::Narrow => {
                &["CREATE UNIQUE INDEX bench_dst_parent_name ON bench_dst (parent_id, name_key)"]
            }
            Rows::Items => &[
                "CREATE UNIQUE INDEX bench_dst_parent_name ON bench_dst (parent_id, name_key)",
                "CREATE INDEX bench_dst_folders ON bench_dst (parent_id) WHERE is_folder = 1",
            ],
        }
    }
}

/// The median of three timed copies of `rows` rows of `shape` into an empty table, each in one
/// transaction. `url` is a SQLite or PostgreSQL URL of a scratch database.
pub async fn insert_select(url: &str, rows: u64, shape: Rows) -> anyhow::Result<Duration> {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(url).await?;
    if url.starts_with("sqlite:") {
        c.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .await?;
    }
    drop_tables(&mut c).await?;
    create(&mut c, "bench_src", shape).await?;
    let fill = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         INSERT INTO bench_src SELECT {} FROM n",
        shape.values()
    );
    c.execute(sqlx::AssertSqlSafe(fill)).await?;
    let mut runs = vec![];
    for _ in 0..3 {
        c.execute("DROP TABLE IF EXISTS bench_dst").await?;
        create(&mut c, "bench_dst", shape).await?;
        for index in shape.indexes() {
            c.execute(*index).await?;
        }
        let started = Instant::now();
        let mut tx = c.begin().await?;
        tx.execute("INSERT INTO bench_dst SELECT * FROM bench_src")
            .await?;
        tx.commit().await?;
        runs.push(started.elapsed());
    }
    drop_tables(&mut c).await?;
    runs.sort();
    Ok(runs[1])
}

async fn create(c: &mut AnyConnection, table: &str, shape: Rows) -> anyhow::Result<()> {
    c.execute(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {table} ({})",
        shape.columns()
    )))
    .await?;
    Ok(())
}

async fn drop_tables(c: &mut AnyConnection) -> anyhow::Result<()> {
    c.execute("DROP TABLE IF EXISTS bench_src").await?;
    c.execute("DROP TABLE IF EXISTS bench_dst").await?;
    Ok(())
}
