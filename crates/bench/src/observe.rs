//! `graphdrive-bench observe`: what metrics and the request log cost. `GET` item requests/s
//! under `wrk` on three servers of the same build and data, in alternating rounds: metrics off
//! and logs at `warn` (the baseline), metrics on (the default), and metrics on with the request
//! log at `info` written to a file (the default an operator runs).

use std::path::Path;

use anyhow::Context;

use crate::graph::Client;
use crate::server::Server;
use crate::serving::{LoadResult, ensure_tool, wrk};

/// One server setup and what `wrk` measured on it, round by round.
pub struct Setup {
    pub name: &'static str,
    pub rounds: Vec<LoadResult>,
}

const ROUNDS: usize = 3;

pub async fn run(work: &Path) -> anyhow::Result<Vec<Setup>> {
    ensure_tool("wrk", "wrk")?;
    let setups: [(&str, &[&str], &str, bool); 3] = [
        (
            "metrics off, log warn (baseline)",
            &["--no-metrics"],
            "warn",
            false,
        ),
        ("metrics on, log warn", &[], "warn", false),
        ("metrics on, request log at info", &[], "info", true),
    ];
    let mut servers = vec![];
    for (i, (name, args, log, to_file)) in setups.iter().enumerate() {
        let dir = work.join(format!("observe-{i}"));
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("metadata.db").display());
        let log_file = to_file.then(|| dir.join("server.log"));
        let server = Server::start_logged(&dir, &url, args, log, log_file.as_deref())?;
        let c = Client::new(&server.url, &server.token);
        let item = c.upload("probe.txt", b"probe".to_vec()).await?;
        let id = item["id"].as_str().context("id")?.to_string();
        let target = format!("{}/v1.0/me/drive/items/{id}", server.url);
        servers.push((*name, server, target));
    }
    let mut results: Vec<Setup> = setups
        .iter()
        .map(|s| Setup {
            name: s.0,
            rounds: vec![],
        })
        .collect();
    for round in 0..ROUNDS {
        for (i, (name, server, target)) in servers.iter().enumerate() {
            eprintln!("[observe] round {} of {ROUNDS}: {name}", round + 1);
            results[i].rounds.push(wrk(target, &server.token)?);
        }
    }
    Ok(results)
}

/// The median requests/s of a setup.
pub fn median_rate(s: &Setup) -> f64 {
    let mut r: Vec<f64> = s.rounds.iter().map(|l| l.requests_per_s).collect();
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

/// A Markdown table: each setup's median requests/s, p99, and its ratio to the baseline.
pub fn table(setups: &[Setup]) -> String {
    let base = median_rate(&setups[0]);
    let mut out = String::from(
        "| server | GET item requests/s (median of 3 × 10 s, 64 connections) | p99 ms | vs baseline |\n|---|---|---|---|\n",
    );
    for s in setups {
        let rate = median_rate(s);
        let p99 = s.rounds.iter().map(|l| l.p99_ms).fold(0.0, f64::max);
        let errors: u64 = s.rounds.iter().map(|l| l.errors).sum();
        out.push_str(&format!(
            "| {} | {:.0}{} | {:.1} | {:.3} ({:+.1} %) |\n",
            s.name,
            rate,
            if errors > 0 {
                format!(" ({errors} errors)")
            } else {
                String::new()
            },
            p99,
            rate / base,
            (rate / base - 1.0) * 100.0
        ));
    }
    out
}

const BEGIN: &str = "<!-- observe -->";
const END: &str = "<!-- /observe -->";

/// Puts this run's section into the report (replacing the last one), with its command and the
/// machine (which names the commit).
pub fn write(report: &Path, setups: &[Setup], machine: &str) -> anyhow::Result<()> {
    let section = format!(
        "{BEGIN}\n## What metrics and the request log cost\n\n\
         Produced by `cargo run --release -p graphdrive-bench -- observe` on {}. \
         Three servers of one build with the same data (SQLite), measured in alternating rounds \
         with `wrk` on `GET` item; the baseline keeps no metrics (`--no-metrics`) and logs at \
         `warn`. {machine}\n\n{}{END}\n",
        crate::report::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        table(setups)
    );
    let old = std::fs::read_to_string(report).unwrap_or_default();
    std::fs::write(report, with_section(&old, &section))?;
    Ok(())
}

/// `text` with its observe section replaced by `section` (or `section` appended).
pub fn with_section(text: &str, section: &str) -> String {
    with_marked_section(text, section, BEGIN, END)
}

/// The observe section of a report, to keep when the rest is written again.
pub fn section_of(text: &str) -> Option<&str> {
    marked_section(text, BEGIN, END)
}

/// `text` with the section between `begin` and `end` replaced by `section` (which holds the
/// markers), or with `section` appended.
pub fn with_marked_section(text: &str, section: &str, begin: &str, end: &str) -> String {
    match (text.find(begin), text.find(end)) {
        (Some(a), Some(b)) if a < b => {
            format!(
                "{}{section}{}",
                &text[..a],
                text[b + end.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("{}\n{section}", text.trim_end()),
    }
}

/// The section of `text` between `begin` and `end`, markers included.
pub fn marked_section<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let a = text.find(begin)?;
    let b = text.find(end)?;
    (a < b).then(|| &text[a..b + end.len()])
}
