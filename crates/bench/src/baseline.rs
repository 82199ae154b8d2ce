//! The physical limit: a bare `INSERT … SELECT` of the same number of rows, in the same engine,
//! with a unique (parent, name) index like graphdrive's own items table.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection, Executor};

/// Times copying `rows` rows of `(id, parent, name, size, hash)` into an empty table in one
/// transaction. `url` is a SQLite or PostgreSQL URL of a scratch database.
pub async fn insert_select(url: &str, rows: u64) -> anyhow::Result<Duration> {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(url).await?;
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        c.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .await?;
    }
    c.execute("DROP TABLE IF EXISTS bench_src").await?;
    c.execute("DROP TABLE IF EXISTS bench_dst").await?;
    for t in ["bench_src", "bench_dst"] {
        c.execute(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {t} (id BIGINT PRIMARY KEY, parent BIGINT NOT NULL, name TEXT NOT NULL, \
             size BIGINT NOT NULL, hash TEXT)"
        )))
        .await?;
    }
    c.execute("CREATE UNIQUE INDEX bench_dst_parent_name ON bench_dst (parent, name)")
        .await?;
    let fill = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) \
         INSERT INTO bench_src SELECT i, i / 100, 'file-' || i, 10, 'e3b0c44298fc1c149afbf4c8996fb924' FROM n"
    );
    c.execute(sqlx::AssertSqlSafe(fill)).await?;
    let started = Instant::now();
    let mut tx = c.begin().await?;
    tx.execute("INSERT INTO bench_dst SELECT id, parent, name, size, hash FROM bench_src")
        .await?;
    tx.commit().await?;
    let took = started.elapsed();
    c.execute("DROP TABLE bench_src").await?;
    c.execute("DROP TABLE bench_dst").await?;
    Ok(took)
}
