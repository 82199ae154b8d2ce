//! `graphdrive-bench scale`: graphdrive on PostgreSQL and S3 (a SeaweedFS server started for the
//! run). One 1 GiB file up and down through graphdrive against the same transfers straight to
//! the S3 server; the copy benchmark's trees on PostgreSQL+S3; and `GET` item and a 1,000-child
//! listing through HAProxy in front of 1, 2 and 3 nodes against one node reached directly.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::graph::Client;
use crate::peers::{free_port, install_debian_package, median};
use crate::server::{Server, Storage};
use crate::serving::{LoadResult, ensure_tool, wrk};
use crate::{SizeResult, report};

const BEGIN: &str = "<!-- scale -->";
const END: &str = "<!-- /scale -->";
const KEY: &str = "graphdrive";
const SECRET: &str = "graphdrive-secret";

#[derive(Debug, Serialize)]
pub struct ScaleResult {
    pub bytes: u64,
    /// Medians of 3, seconds: graphdrive's `PUT …/content` and download, then `curl` straight to
    /// the S3 server.
    pub upload_s: f64,
    pub download_s: f64,
    pub s3_upload_s: f64,
    pub s3_download_s: f64,
    pub sizes: Vec<SizeResult>,
    /// (what, GET item, listing of 1,000).
    pub rates: Vec<(String, LoadResult, LoadResult)>,
}

/// The S3 server, stopped on drop.
struct S3 {
    child: Child,
    endpoint: String,
}

impl S3 {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        let base = 9400;
        let child = Command::new("scripts/s3-server")
            .arg(dir)
            .arg(base.to_string())
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.with_extension("log"))?)
            .spawn()
            .context("start scripts/s3-server (run the benchmark from the repository's root)")?;
        let s3 = S3 {
            child,
            endpoint: format!("http://127.0.0.1:{}", base + 3),
        };
        let until = Instant::now() + Duration::from_secs(120);
        while s3
            .curl(&["-o", "/dev/null"], "graphdrive?max-keys=1")
            .is_err()
        {
            if Instant::now() > until {
                bail!("the S3 server did not answer on {}", s3.endpoint);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Ok(s3)
    }

    fn env(&self) -> Vec<(String, String)> {
        [
            ("GRAPHDRIVE_S3_ENDPOINT", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
            ("AWS_REGION", "us-east-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A signed `curl` of `path` in the server; returns how long it took.
    fn curl(&self, args: &[&str], path: &str) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let out = Command::new("curl")
            .args(["-s", "-S", "--fail", "--aws-sigv4", "aws:amz:us-east-1:s3"])
            .args(["--user", &format!("{KEY}:{SECRET}")])
            .args(args)
            .arg(format!("{}/{path}", self.endpoint))
            .output()?;
        if !out.status.success() {
            bail!("curl {path}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(started.elapsed())
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn median_of_3(mut f: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<f64> {
    let runs = (0..3).map(|_| f()).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(runs).as_secs_f64())
}

fn graphdrive_curl(args: &[&str], url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-s", "-S", "--fail", "-o", "/dev/null"])
        .args(args)
        .arg(url)
        .output()?;
    if !out.status.success() {
        bail!("curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(started.elapsed())
}

pub async fn run(work: &Path, admin: &str, levels: usize) -> anyhow::Result<ScaleResult> {
    ensure_tool("curl", "curl")?;
    ensure_tool("wrk", "wrk")?;
    ensure_tool("haproxy", "haproxy")?;
    let s3 = S3::start(&work.join("s3"))?;
    let env = s3.env();
    let db = format!("graphdrive_bench_{}", uuid::Uuid::new_v4().simple());
    let url = report::postgres_database(admin, &db).await?;
    let result = measure(work, &url, &env, &s3, levels).await;
    report::drop_postgres_database(admin, &db).await?;
    result
}

async fn measure(
    work: &Path,
    url: &str,
    env: &[(String, String)],
    s3: &S3,
    levels: usize,
) -> anyhow::Result<ScaleResult> {
    let lb_port = free_port()?;
    let mut nodes = vec![];
    for n in 0..3 {
        let dir = work.join(format!("node{n}"));
        std::fs::create_dir_all(&dir)?;
        let storage = Storage {
            data_dir: &dir,
            metadata: url,
            blobs: Some("s3://graphdrive/bench"),
            env,
        };
        let args = ["--max-upload-size", "2000000000"];
        nodes.push(Server::start_on(&storage, &args, "warn", None)?);
    }
    eprintln!("[scale] 1 GiB through graphdrive and straight to S3…");
    let (bytes, up, down, s3_up, s3_down) = transfers(&nodes[0], s3, work)?;
    eprintln!("[scale] the copy benchmark's trees on PostgreSQL+S3…");
    let sizes = crate::run_sizes(&nodes[0], "PostgreSQL+S3", levels, url).await?;
    eprintln!("[scale] wrk through HAProxy with 1, 2 and 3 nodes…");
    let rates = rates(&nodes, work, lb_port).await?;
    Ok(ScaleResult {
        bytes,
        upload_s: up,
        download_s: down,
        s3_upload_s: s3_up,
        s3_download_s: s3_down,
        sizes,
        rates,
    })
}

fn transfers(node: &Server, s3: &S3, work: &Path) -> anyhow::Result<(u64, f64, f64, f64, f64)> {
    let bytes: u64 = 1 << 30;
    let file = work.join("transfer.bin");
    std::fs::write(
        &file,
        (0..bytes as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect::<Vec<u8>>(),
    )?;
    let f = file.to_string_lossy().to_string();
    let auth = format!("Authorization: Bearer {}", node.token);
    let content = format!("{}/v1.0/me/drive/root:/transfer.bin:/content", node.url);
    let up = median_of_3(|| graphdrive_curl(&["-H", &auth, "-T", &f], &content))?;
    let down = median_of_3(|| graphdrive_curl(&["-L", "-H", &auth], &content))?;
    let s3_up = median_of_3(|| s3.curl(&["-T", &f, "-o", "/dev/null"], "graphdrive/direct.bin"))?;
    let s3_down = median_of_3(|| s3.curl(&["-o", "/dev/null"], "graphdrive/direct.bin"))?;
    let _ = std::fs::remove_file(&file);
    Ok((bytes, up, down, s3_up, s3_down))
}

/// HAProxy in front of `nodes`, stopped on drop.
struct Haproxy(Child);

impl Haproxy {
    fn start(work: &Path, port: u16, nodes: &[&Server]) -> anyhow::Result<Self> {
        if !Path::new("/usr/sbin/haproxy").exists() {
            install_debian_package("haproxy")?;
        }
        let mut cfg = format!(
            "global\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  \
             timeout client 60s\n  timeout server 60s\nfrontend f\n  bind 127.0.0.1:{port}\n  \
             default_backend nodes\nbackend nodes\n  balance roundrobin\n"
        );
        for (i, n) in nodes.iter().enumerate() {
            let addr = n.url.trim_start_matches("http://");
            cfg.push_str(&format!("  server n{i} {addr}\n"));
        }
        let path = work.join("haproxy.cfg");
        std::fs::write(&path, cfg)?;
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&path)
            .arg("-db")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self(child))
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn rates(
    nodes: &[Server],
    work: &Path,
    port: u16,
) -> anyhow::Result<Vec<(String, LoadResult, LoadResult)>> {
    let first = &nodes[0];
    let c = Client::new(&first.url, &first.token);
    let folder = c.mkdir("list1000").await?;
    let folder_id = folder["id"].as_str().context("id")?.to_string();
    let mut item_id = String::new();
    for i in 0..1000 {
        let f = c
            .upload(&format!("list1000/f{i:04}.txt"), format!("file {i}").into())
            .await?;
        if i == 0 {
            item_id = f["id"].as_str().context("id")?.to_string();
        }
    }
    let paths = [
        format!("/v1.0/me/drive/items/{item_id}"),
        format!("/v1.0/me/drive/items/{folder_id}/children?$top=1000"),
    ];
    let load = |base: &str| -> anyhow::Result<(LoadResult, LoadResult)> {
        Ok((
            wrk(&format!("{base}{}", paths[0]), &first.token)?,
            wrk(&format!("{base}{}", paths[1]), &first.token)?,
        ))
    };
    let mut out = vec![];
    let (get, list) = load(&first.url)?;
    out.push(("one node, directly (baseline)".to_string(), get, list));
    for n in 1..=nodes.len() {
        let behind: Vec<&Server> = nodes.iter().take(n).collect();
        let _lb = Haproxy::start(work, port, &behind)?;
        let (get, list) = load(&format!("http://127.0.0.1:{port}"))?;
        out.push((
            format!("HAProxy, {n} node{}", if n > 1 { "s" } else { "" }),
            get,
            list,
        ));
    }
    Ok(out)
}

pub fn table(r: &ScaleResult) -> String {
    let mib = r.bytes as f64 / (1 << 20) as f64;
    let mut t = String::from(
        "| 1 GiB | graphdrive (s) | MiB/s | straight to S3 (s) | MiB/s | ratio |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for (what, ours, theirs) in [
        ("upload, one `PUT …/content`", r.upload_s, r.s3_upload_s),
        ("download", r.download_s, r.s3_download_s),
    ] {
        t.push_str(&format!(
            "| {what} | {ours:.2} | {:.0} | {theirs:.2} | {:.0} | {:.2}× |\n",
            mib / ours,
            mib / theirs,
            ours / theirs
        ));
    }
    t.push_str(
        "\n| items | accept (ms) | complete (s) | items/s | bare copy, items rows (s) | ratio | peak RSS (MiB) |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for s in &r.sizes {
        t.push_str(&format!(
            "| {} | {:.1} | {:.3} | {:.0} | {:.3} | {:.2}× | {:.0} |\n",
            s.items,
            s.accept_ms,
            s.complete_s,
            s.items_per_s,
            s.items_baseline_s,
            s.complete_s / s.items_baseline_s,
            s.peak_rss_mib
        ));
    }
    t.push_str(
        "\n| reached through | GET item req/s | p99 (ms) | vs baseline | list 1,000 req/s | p99 (ms) | vs baseline | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let (base_get, base_list) = (r.rates[0].1.requests_per_s, r.rates[0].2.requests_per_s);
    for (what, get, list) in &r.rates {
        t.push_str(&format!(
            "| {what} | {:.0} | {:.1} | {:.2}× | {:.0} | {:.1} | {:.2}× | {} |\n",
            get.requests_per_s,
            get.p99_ms,
            get.requests_per_s / base_get,
            list.requests_per_s,
            list.p99_ms,
            list.requests_per_s / base_list,
            get.errors + list.errors
        ));
    }
    t
}

pub fn write(report: &Path, r: &ScaleResult, machine: &str) -> anyhow::Result<()> {
    let section = format!(
        "{BEGIN}\n## Several nodes: PostgreSQL and S3\n\n\
         Produced by `cargo run --release -p graphdrive-bench -- scale --postgres \
         postgres://postgres@127.0.0.1:5432/postgres` on {}. Three graphdrive nodes on one \
         PostgreSQL database and one S3 bucket (SeaweedFS `weed mini` on loopback, started for the \
         run). Transfers are `curl` medians of 3: graphdrive streams an upload to the bucket \
         (multipart, 8 MiB parts) while it hashes it, and a download follows the 302 to the \
         signed URL, whose node reads the object; the baseline sends and fetches the same file \
         straight to and from the S3 server with a signed `curl` (one `PUT`). The copy runs the \
         copy benchmark (three copies per size, the median; the baseline is a bare \
         `INSERT … SELECT` in the same database). Request rates are `wrk -t2 -c64 -d10s` on one \
         node directly, then through HAProxy in front of 1, 2 and 3 nodes; everything (wrk, \
         HAProxy, PostgreSQL, the S3 server, the nodes) shares the machine's 2 cores, so more \
         nodes add no CPU here: the table shows what the load balancer and sharing cost, not \
         how far nodes scale on more machines. {machine}\n\n{}{END}\n",
        report::command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        table(r)
    );
    let old = std::fs::read_to_string(report).unwrap_or_default();
    std::fs::write(
        report,
        crate::observe::with_marked_section(&old, &section, BEGIN, END),
    )?;
    Ok(())
}
