//! `graphdrive-bench journal`: what the change journal costs and saves, on a drive of about a
//! million items (the copy benchmark's doubling tree), each figure beside a baseline of the same
//! run on the same server:
//! - a first sync by delta (items/s) beside crawling the same tree through `children`;
//! - an incremental delta after one change beside a `GET` of one item;
//! - deleting and restoring the whole tree beside deleting and restoring one file.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};

use crate::graph::{Client, build_trees};
use crate::peers::median;
use crate::server::Server;

pub struct JournalResult {
    pub backend: &'static str,
    pub items: u64,
    pub delta_items_per_s: f64,
    pub crawl_items_per_s: f64,
    pub incremental_ms: f64,
    pub get_item_ms: f64,
    pub delete_tree_ms: f64,
    pub restore_tree_ms: f64,
    pub delete_file_ms: f64,
    pub restore_file_ms: f64,
}

const ROUNDS: usize = 15;

/// Every measurement on SQLite, then (given an admin URL) on a scratch PostgreSQL database.
pub async fn run_all(
    work: &Path,
    levels: usize,
    postgres: Option<&str>,
) -> anyhow::Result<Vec<JournalResult>> {
    let dir = work.join("journal-sqlite");
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("metadata.db").display());
    let mut out = vec![run(&dir, &url, "SQLite", levels).await?];
    if let Some(admin) = postgres {
        let db = format!("graphdrive_bench_{}", uuid::Uuid::new_v4().simple());
        let url = crate::report::postgres_database(admin, &db).await?;
        let dir = work.join("journal-postgres");
        std::fs::create_dir_all(&dir)?;
        let r = run(&dir, &url, "PostgreSQL", levels).await;
        crate::report::drop_postgres_database(admin, &db).await?;
        out.push(r?);
    }
    Ok(out)
}

async fn run(
    dir: &Path,
    url: &str,
    backend: &'static str,
    levels: usize,
) -> anyhow::Result<JournalResult> {
    let server = Server::start(dir, url, &[])?;
    let c = Client::new(&server.url, &server.token);
    eprintln!("[journal] building the tree");
    let trees = build_trees(&c, levels).await?;
    let items: u64 = 101 + trees.iter().map(|(_, n)| n).sum::<u64>();

    eprintln!("[journal] a first sync by delta, and a crawl through children");
    let started = Instant::now();
    let (seen, link) = delta_round(
        &c,
        &format!(
            "{}/v1.0/me/drive/root/delta?$top=1000&$select=id,name,parentReference",
            server.url
        ),
    )
    .await?;
    let delta_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let crawled = crawl(&c).await?;
    let crawl_s = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        seen as u64 == crawled + 1,
        "delta saw {seen} items, the crawl {crawled}"
    );

    eprintln!("[journal] incremental delta after one change");
    let mut link = link;
    let mut incremental = vec![];
    let mut get_item = vec![];
    for i in 0..ROUNDS {
        let file = c
            .upload("probe.txt", format!("change {i}").into_bytes())
            .await?;
        let id = file["id"].as_str().context("id")?.to_string();
        let started = Instant::now();
        let page = c.get_url(&link).await?;
        incremental.push(started.elapsed());
        anyhow::ensure!(
            page["value"].as_array().is_some_and(|v| v.len() == 1),
            "one change: {page}"
        );
        link = page["@odata.deltaLink"]
            .as_str()
            .context("deltaLink")?
            .to_string();
        let started = Instant::now();
        c.get(&format!("/me/drive/items/{id}")).await?;
        get_item.push(started.elapsed());
    }

    eprintln!("[journal] deleting and restoring the whole tree, and one file");
    let (top, _) = trees.last().context("a tree")?;
    let tree = c.get(&format!("/me/drive/root:/{top}")).await?;
    let tree_id = tree["id"].as_str().context("id")?.to_string();
    let file = c.get("/me/drive/root:/probe.txt").await?;
    let file_id = file["id"].as_str().context("id")?.to_string();
    let (mut dt, mut rt, mut df, mut rf) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        dt.push(timed(c.delete(&format!("/me/drive/items/{tree_id}"))).await?);
        rt.push(timed(c.post(&format!("/me/drive/items/{tree_id}/restore"), &json!({}))).await?);
        df.push(timed(c.delete(&format!("/me/drive/items/{file_id}"))).await?);
        rf.push(timed(c.post(&format!("/me/drive/items/{file_id}/restore"), &json!({}))).await?);
    }
    let ms = |v: &[Duration]| median(v.to_vec()).as_secs_f64() * 1000.0;
    Ok(JournalResult {
        backend,
        items,
        delta_items_per_s: seen as f64 / delta_s,
        crawl_items_per_s: crawled as f64 / crawl_s,
        incremental_ms: ms(&incremental),
        get_item_ms: ms(&get_item),
        delete_tree_ms: ms(&dt),
        restore_tree_ms: ms(&rt),
        delete_file_ms: ms(&df),
        restore_file_ms: ms(&rf),
    })
}

async fn timed(
    f: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    f.await?;
    Ok(started.elapsed())
}

/// Follows a delta round to its deltaLink; returns the items seen and the link.
async fn delta_round(c: &Client, first: &str) -> anyhow::Result<(usize, String)> {
    let (mut seen, mut url) = (0, first.to_string());
    loop {
        let page: Value = c.get_url(&url).await?;
        seen += page["value"].as_array().map_or(0, Vec::len);
        if let Some(next) = page["@odata.nextLink"].as_str() {
            url = next.to_string();
        } else {
            return Ok((
                seen,
                page["@odata.deltaLink"]
                    .as_str()
                    .context("deltaLink")?
                    .to_string(),
            ));
        }
    }
}

/// Lists every folder's children (pages of 1,000, with the same `$select`); returns the items.
async fn crawl(c: &Client) -> anyhow::Result<u64> {
    let mut todo = vec![
        "/me/drive/root/children?$top=1000&$select=id,name,parentReference,folder".to_string(),
    ];
    let mut n = 0;
    while let Some(first) = todo.pop() {
        let mut page = c.get(&first).await?;
        loop {
            for v in page["value"].as_array().context("value")? {
                n += 1;
                if v["folder"].is_object() {
                    todo.push(format!(
                        "/me/drive/items/{}/children?$top=1000&$select=id,name,parentReference,folder",
                        v["id"].as_str().context("id")?
                    ));
                }
            }
            match page["@odata.nextLink"].as_str() {
                Some(next) => page = c.get_url(next).await?,
                None => break,
            }
        }
    }
    Ok(n)
}

pub fn table(results: &[JournalResult]) -> String {
    results.iter().map(table_of).collect::<Vec<_>>().join("\n")
}

fn table_of(r: &JournalResult) -> String {
    format!(
        "| on a drive of {} items ({}) | graphdrive | baseline (same run) | ratio |\n|---|---|---|---|\n\
         | first sync by delta, items/s | {:.0} | crawl through `children`: {:.0} | {:.2} |\n\
         | incremental delta after one change, ms (median of {ROUNDS}) | {:.2} | `GET` one item: {:.2} | {:.2} |\n\
         | delete the whole tree, ms | {:.2} | delete one file: {:.2} | {:.2} |\n\
         | restore the whole tree, ms | {:.2} | restore one file: {:.2} | {:.2} |\n",
        r.items,
        r.backend,
        r.delta_items_per_s,
        r.crawl_items_per_s,
        r.delta_items_per_s / r.crawl_items_per_s,
        r.incremental_ms,
        r.get_item_ms,
        r.incremental_ms / r.get_item_ms,
        r.delete_tree_ms,
        r.delete_file_ms,
        r.delete_tree_ms / r.delete_file_ms,
        r.restore_tree_ms,
        r.restore_file_ms,
        r.restore_tree_ms / r.restore_file_ms,
    )
}

const BEGIN: &str = "<!-- journal -->";
const END: &str = "<!-- /journal -->";

pub fn write(report: &Path, r: &[JournalResult], machine: &str) -> anyhow::Result<()> {
    let section = format!(
        "{BEGIN}\n## Delta and the recycle bin\n\n\
         Produced by `cargo run --release -p graphdrive-bench -- journal --postgres \
         postgres://postgres@127.0.0.1:5432/postgres` on {}. One server per metadata backend \
         holding the copy benchmark's doubling tree; every figure beside a baseline measured on \
         the same server in the same run. {machine}\n\n{}{END}\n",
        crate::report::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        table(r)
    );
    let old = std::fs::read_to_string(report).unwrap_or_default();
    std::fs::write(report, with_section(&old, &section))?;
    Ok(())
}

/// The journal section of a report, if it has one.
pub fn section_of(text: &str) -> Option<&str> {
    crate::observe::marked_section(text, BEGIN, END)
}

/// `text` with its journal section replaced by `section` (or `section` appended).
pub fn with_section(text: &str, section: &str) -> String {
    crate::observe::with_marked_section(text, section, BEGIN, END)
}
