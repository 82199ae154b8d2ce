//! A graphdrive server process for a benchmark run, and what it costs in memory.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

/// Where a server keeps things: its data directory, metadata URL, blob store URL (`--blobs`;
/// the data directory's when `None`) and the environment that goes with them (S3 keys).
pub struct Storage<'a> {
    pub data_dir: &'a Path,
    pub metadata: &'a str,
    pub blobs: Option<&'a str>,
    pub env: &'a [(String, String)],
}

pub struct Server {
    pub url: String,
    pub token: String,
    child: Child,
}

/// The `graphdrive` binary beside this one (built first if it is not there).
fn graphdrive_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("graphdrive");
    if !bin.exists() {
        let status = Command::new("cargo")
            .args(["build", "--release", "-p", "graphdrive"])
            .status()?;
        if !status.success() {
            bail!("could not build graphdrive");
        }
    }
    Ok(bin)
}

impl Server {
    pub fn start(data_dir: &Path, metadata: &str, extra: &[&str]) -> anyhow::Result<Self> {
        let log = std::env::var("GRAPHDRIVE_BENCH_LOG").unwrap_or_else(|_| "warn".into());
        Self::start_logged(data_dir, metadata, extra, &log, None)
    }

    /// As [`Server::start`], with the server's log filter, and its log (stderr) in `log_file`.
    pub fn start_logged(
        data_dir: &Path,
        metadata: &str,
        extra: &[&str],
        log: &str,
        log_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let storage = Storage {
            data_dir,
            metadata,
            blobs: None,
            env: &[],
        };
        Self::start_on(&storage, extra, log, log_file)
    }

    /// A server on `storage`, with `extra` arguments to `serve`.
    pub fn start_on(
        storage: &Storage<'_>,
        extra: &[&str],
        log: &str,
        log_file: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let bin = graphdrive_binary()?;
        let common = |cmd: &mut Command| {
            cmd.args([
                "--data-dir",
                &storage.data_dir.to_string_lossy(),
                "--metadata",
                storage.metadata,
            ])
            .args(storage.blobs.iter().flat_map(|b| ["--blobs", b]))
            .envs(storage.env.iter().map(|(k, v)| (k, v)))
            .env("GRAPHDRIVE_LOG", log);
        };
        let mut add = Command::new(&bin);
        common(&mut add);
        add.args(["user", "add", "bench"]).output()?;
        let mut tok = Command::new(&bin);
        common(&mut tok);
        let out = tok
            .args([
                "token",
                "--user",
                "bench",
                "--scope",
                "Files.ReadWrite",
                "--ttl",
                "86400",
            ])
            .output()?;
        if !out.status.success() {
            bail!("token: {}", String::from_utf8_lossy(&out.stderr));
        }
        let token = String::from_utf8(out.stdout)?.trim().to_string();
        let mut serve = Command::new(&bin);
        common(&mut serve);
        if let Some(file) = log_file {
            serve.stderr(std::fs::File::create(file)?);
        }
        let mut child = serve
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .context("start graphdrive")?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line)?;
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .context("server banner")?
            .to_string();
        Ok(Self { url, token, child })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, in bytes.
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples a process's resident memory every 20 ms until stopped; keeps the peak.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(rss_bytes(pid)));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_bytes(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Self {
            stop,
            peak,
            handle: Some(handle),
        }
    }

    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}
