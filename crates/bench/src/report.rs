//! BENCHMARKS.md, bench-results.json and the chart; and the scratch PostgreSQL database.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use sqlx::{AnyConnection, Connection, Executor};

use crate::Results;

pub async fn postgres_database(admin: &str, name: &str) -> anyhow::Result<String> {
    sqlx::any::install_default_drivers();
    let mut c = AnyConnection::connect(admin).await?;
    c.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await?;
    let base = admin.rsplit_once('/').map_or(admin, |(b, _)| b);
    Ok(format!("{base}/{name}"))
}

pub async fn drop_postgres_database(admin: &str, name: &str) -> anyhow::Result<()> {
    let mut c = AnyConnection::connect(admin).await?;
    c.execute(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await?;
    Ok(())
}

pub fn command_output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|s| s.trim_start_matches([' ', '\t', ':']))
        .unwrap_or("?");
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = mem
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .nth(1)
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or(0);
    format!(
        "{} cores ({cpu}), {:.0} GiB memory, {}; {}; commit {}",
        command_output("nproc", &[]),
        mem as f64 / (1 << 20) as f64,
        command_output("sh", &["-c", "df -T . | tail -1 | awk '{print $2}'"]),
        command_output("rustc", &["--version"]),
        command_output("git", &["rev-parse", "--short", "HEAD"]),
    )
}

pub fn write(out: &Path, r: &Results) -> anyhow::Result<()> {
    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Produced by `cargo run --release -p graphdrive-bench -- copy --postgres postgres://postgres@127.0.0.1:5432/postgres` on {}.",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
    )?;
    writeln!(md, "Machine: {}.\n", machine())?;
    writeln!(
        md,
        "Every figure has its baseline measured in the same run; timings on this shared 2-core machine are noisy, so read the ratios.\n"
    )?;
    goals(&mut md, r)?;
    writeln!(md, "## Folder copy through the API\n")?;
    writeln!(
        md,
        "Trees are built by doubling with copies through the API: a folder of 100 small files, then folders of 10 copies of the level below (so folders hold 10 or 100 entries). Each tree is copied three times; `accept` is `POST …/copy` → `202` and `complete` is `POST` → the monitor's `completed`, of the run with the median `complete`. The limit is a bare one-transaction `INSERT … SELECT` of as many rows, in the same engine, by the same process (median of 3), for two row shapes: *narrow* rows of `(id, parent, name, size, hash)` with a unique `(parent, name)` index, and *items* rows: graphdrive's own items columns and indexes, holding values of the sizes a copy writes (a drive id, two principal ids, a SHA-256 hex hash, a media type…). A copy writes items rows, so the items ratio is its distance from the limit; the narrow ratio shows what the width of a row costs. Latencies are of a second client reading one item and uploading a 1 KiB file in a loop while the three copies run; peak RSS is over the three.\n"
    )?;
    writeln!(
        md,
        "| engine | items | accept (ms) | complete (s) | items/s | bare copy, items rows (s) | ratio | bare copy, narrow rows (s) | ratio | peak RSS (MiB) | GET p50/p99 (ms) | upload p50/p99 (ms) |"
    )?;
    writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )?;
    for s in &r.sizes {
        writeln!(
            md,
            "| {} | {} | {:.1} | {:.3} | {:.0} | {:.3} | {:.2}× | {:.3} | {:.2}× | {:.0} | {:.1} / {:.1} | {:.1} / {:.1} |",
            s.backend,
            s.items,
            s.accept_ms,
            s.complete_s,
            s.items_per_s,
            s.items_baseline_s,
            s.complete_s / s.items_baseline_s,
            s.narrow_baseline_s,
            s.complete_s / s.narrow_baseline_s,
            s.peak_rss_mib,
            s.latencies.get_p50_ms,
            s.latencies.get_p99_ms,
            s.latencies.upload_p50_ms,
            s.latencies.upload_p99_ms
        )?;
    }
    if !r.peers.is_empty() {
        writeln!(
            md,
            "\n## Against the peers: 10,000 files (100 folders × 100)\n"
        )?;
        writeln!(
            md,
            "graphdrive (SQLite) copies the tree through its API; `cp -r` copies real files on the same disk; Apache httpd mod_dav answers one WebDAV `COPY` (Depth: infinity) on loopback. Medians of 3.\n"
        )?;
        writeln!(
            md,
            "| file size | graphdrive (s) | cp -r (s) | Apache COPY (s) | vs cp -r | vs Apache |"
        )?;
        writeln!(md, "|---:|---:|---:|---:|---:|---:|")?;
        for p in &r.peers {
            let apache = p.apache_s.map_or("n/a".into(), |a| format!("{a:.3}"));
            let vs_apache = p
                .apache_s
                .map_or("n/a".into(), |a| format!("{:.1}× faster", a / p.ours_s));
            writeln!(
                md,
                "| {} KiB | {:.3} | {:.3} | {apache} | {:.1}× faster | {vs_apache} |",
                p.file_kib,
                p.ours_s,
                p.cp_s,
                p.cp_s / p.ours_s
            )?;
        }
    }
    if let Some(b) = &r.big_file {
        writeln!(md, "\n## One 1 GiB file\n")?;
        writeln!(
            md,
            "| graphdrive accept → completed (ms) | cp (s) | ratio |"
        )?;
        writeln!(md, "|---:|---:|---:|")?;
        writeln!(
            md,
            "| {:.1} | {:.3} | {:.0}× faster |",
            b.ours_ms,
            b.cp_s,
            b.cp_s * 1000.0 / b.ours_ms
        )?;
    }
    serving(&mut md, r)?;
    for n in &r.notes {
        writeln!(md, "\nNote: {n}")?;
    }
    let json_path = out.with_file_name("bench-results.json");
    std::fs::write(&json_path, serde_json::to_string_pretty(r)?)?;
    if chart(&json_path, &out.with_file_name("docs/copy-bench.png")) {
        writeln!(md, "\n![items vs seconds](docs/copy-bench.png)")?;
    }
    // The observe section is written by its own command; it stays until that runs again.
    if let Some(kept) = std::fs::read_to_string(out)
        .ok()
        .as_deref()
        .and_then(crate::observe::section_of)
    {
        md = crate::observe::with_section(&md, kept);
    }
    // So is the journal section.
    if let Some(kept) = std::fs::read_to_string(out)
        .ok()
        .as_deref()
        .and_then(crate::journal::section_of)
    {
        md = crate::journal::with_section(&md, kept);
    }
    std::fs::write(out, md)?;
    Ok(())
}

/// Renders the log–log chart with matplotlib (installed into `.venv` when missing).
fn chart(results: &Path, png: &Path) -> bool {
    let py = Path::new(".venv/bin/python");
    if !py.exists() {
        let _ = Command::new("python3")
            .args(["-m", "venv", ".venv"])
            .status();
    }
    let has = |py: &Path| {
        Command::new(py)
            .args(["-c", "import matplotlib"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has(py) {
        let _ = Command::new(".venv/bin/pip")
            .args(["install", "-q", "matplotlib"])
            .status();
    }
    if let Some(dir) = png.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    Command::new(py)
        .arg("scripts/bench_chart.py")
        .arg(results)
        .arg(png)
        .status()
        .is_ok_and(|s| s.success())
}

/// The serving figures: `wrk` request rates and the 1 GiB transfers against nginx.
fn serving(md: &mut String, r: &Results) -> anyhow::Result<()> {
    if !r.request_rates.is_empty() {
        writeln!(md, "\n## Requests per second\n")?;
        writeln!(
            md,
            "`wrk -t2 -c64 -d10s --latency` on loopback, with a bearer token, against the server that ran the copies above (its database then holds those trees). The listing is one page of a folder of 1,000 files (`…/children?$top=1000`, {:.0} KiB of JSON). No request failed unless the errors column says so.\n",
            r.request_rates[0].list_bytes as f64 / 1024.0
        )?;
        writeln!(
            md,
            "| engine | request | requests/s | p50 (ms) | p99 (ms) | errors |"
        )?;
        writeln!(md, "|---|---|---:|---:|---:|---:|")?;
        for rates in &r.request_rates {
            for (what, l) in [
                ("GET item", &rates.get_item),
                ("list 1,000 children", &rates.list_1000),
            ] {
                writeln!(
                    md,
                    "| {} | {what} | {:.0} | {:.2} | {:.2} | {} |",
                    rates.backend, l.requests_per_s, l.p50_ms, l.p99_ms, l.errors
                )?;
            }
        }
    }
    if let Some(t) = &r.transfers {
        let mib_s = |s: f64| t.bytes as f64 / (1 << 20) as f64 / s;
        writeln!(md, "\n## 1 GiB up and down\n")?;
        writeln!(
            md,
            "`curl` on loopback, medians of 3. graphdrive (SQLite) hashes the upload (SHA-256, SHA-1, quickXorHash) and writes it to its blob store, fsynced; nginx writes the same file through WebDAV `PUT` and serves it with `sendfile`. The download from graphdrive follows its 302 to the signed download URL.\n"
        )?;
        writeln!(
            md,
            "| transfer | graphdrive (s) | MiB/s | nginx (s) | MiB/s |"
        )?;
        writeln!(md, "|---|---:|---:|---:|---:|")?;
        writeln!(
            md,
            "| upload, one `PUT …/content` | {:.2} | {:.0} | {:.2} | {:.0} |",
            t.upload_put_s,
            mib_s(t.upload_put_s),
            t.nginx_upload_s,
            mib_s(t.nginx_upload_s)
        )?;
        writeln!(
            md,
            "| upload, session of 60 MiB fragments | {:.2} | {:.0} | | |",
            t.upload_session_s,
            mib_s(t.upload_session_s)
        )?;
        writeln!(
            md,
            "| download | {:.2} | {:.0} | {:.2} | {:.0} |",
            t.download_s,
            mib_s(t.download_s),
            t.nginx_download_s,
            mib_s(t.nginx_download_s)
        )?;
    }
    Ok(())
}

/// The project's goals for this benchmark, each against what this run measured.
fn goals(md: &mut String, r: &Results) -> anyhow::Result<()> {
    let mut rows: Vec<(String, String, String, bool)> = vec![];
    let mut check = |what: String, goal: &str, value: String, met: bool| {
        rows.push((what, goal.to_string(), value, met));
    };
    let largest = |backend: &str| {
        r.sizes
            .iter()
            .filter(|s| s.backend == backend)
            .max_by_key(|s| s.items)
    };
    for (backend, limit) in [("SQLite", 10.0), ("PostgreSQL", 20.0)] {
        let Some(s) = largest(backend) else { continue };
        check(
            format!("{} items, {backend}, accept → completed", s.items),
            &format!("≤ {limit:.0} s"),
            format!("{:.2} s", s.complete_s),
            s.complete_s <= limit,
        );
        // The goal is against the same rows; the narrow rows' ratio stays in the table below.
        let ratio = s.complete_s / s.items_baseline_s;
        check(
            "the same, ratio to a bare `INSERT … SELECT` of the same rows (items rows)".into(),
            "≤ 3×",
            format!("{ratio:.2}×"),
            ratio <= 3.0,
        );
        check(
            format!("peak RSS during the {backend} {} copy", s.items),
            "≤ 256 MiB",
            format!("{:.0} MiB", s.peak_rss_mib),
            s.peak_rss_mib <= 256.0,
        );
        check(
            format!("p99 `GET` item during the {backend} {} copy", s.items),
            "≤ 50 ms",
            format!("{:.1} ms", s.latencies.get_p99_ms),
            s.latencies.get_p99_ms <= 50.0,
        );
        let tenth = r.sizes.iter().filter(|t| {
            t.backend == backend && t.items * 10 < s.items * 2 && t.items * 10 > s.items / 2
        });
        if let Some(t) = tenth.max_by_key(|t| t.items) {
            let change = s.items_per_s / t.items_per_s - 1.0;
            check(
                format!("{backend} items/s at {} vs at {}", s.items, t.items),
                "at most 30% lower (linear cost)",
                format!("{:+.0}%", change * 100.0),
                change >= -0.3,
            );
        }
    }
    if let Some(worst) = r.sizes.iter().map(|s| s.accept_ms).reduce(f64::max) {
        check(
            "`POST …/copy` → `202`, slowest of every size".into(),
            "≤ 50 ms",
            format!("{worst:.1} ms"),
            worst <= 50.0,
        );
    }
    for p in &r.peers {
        let goal = if p.file_kib >= 64 { 10.0 } else { 2.0 };
        let vs_cp = p.cp_s / p.ours_s;
        let vs_apache = p.apache_s.map(|a| a / p.ours_s);
        let slowest = vs_apache.map_or(vs_cp, |a| a.min(vs_cp));
        check(
            format!(
                "10,000 files of {} KiB vs `cp -r` and Apache `COPY`",
                p.file_kib
            ),
            &format!("≥ {goal:.0}× faster than both"),
            format!(
                "{vs_cp:.1}× / {}",
                vs_apache.map_or("n/a".into(), |a| format!("{a:.1}×"))
            ),
            vs_apache.is_some() && slowest >= goal,
        );
    }
    if let Some(b) = &r.big_file {
        check(
            "1 GiB single-file copy, accept → completed".into(),
            "≤ 100 ms",
            format!("{:.1} ms", b.ours_ms),
            b.ours_ms <= 100.0,
        );
    }
    writeln!(md, "## Goals\n")?;
    writeln!(md, "| measure | goal | this run | met |")?;
    writeln!(md, "|---|---|---:|---|")?;
    for (what, goal, value, met) in rows {
        writeln!(
            md,
            "| {what} | {goal} | {value} | {} |",
            if met { "yes" } else { "**no**" }
        )?;
    }
    writeln!(md)?;
    Ok(())
}
