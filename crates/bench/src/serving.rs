//! Serving, beside the copy: requests/s of `GET` item and of a 1,000-child listing under `wrk`
//! (64 connections), and 1 GiB uploads and downloads with `curl`, against nginx serving and
//! accepting (WebDAV `PUT`) the same file on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::graph::Client;
use crate::peers::{free_port, install_debian_package, median};
use crate::server::Server;

/// What `wrk` measured for one URL.
#[derive(Clone, Debug, Serialize)]
pub struct LoadResult {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Responses that were not 2xx/3xx (should be none).
    pub errors: u64,
}

/// Requests/s on one server.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRates {
    pub backend: String,
    pub connections: u32,
    pub get_item: LoadResult,
    pub list_1000: LoadResult,
    /// The size of one listing response.
    pub list_bytes: usize,
}

/// 1 GiB transfers, graphdrive vs nginx; medians of 3, in seconds.
#[derive(Clone, Debug, Serialize)]
pub struct Transfers {
    pub bytes: u64,
    /// `curl -T` to `PUT …/content`.
    pub upload_put_s: f64,
    /// An upload session in 60 MiB fragments (as the SDKs upload large files).
    pub upload_session_s: f64,
    /// `curl -L` of `…/content` (a 302 to the signed download URL, then the bytes).
    pub download_s: f64,
    /// `curl -T` to nginx's WebDAV `PUT`.
    pub nginx_upload_s: f64,
    /// `curl` of the same file from nginx.
    pub nginx_download_s: f64,
}

const CONNECTIONS: u32 = 64;
const LOAD_SECONDS: u32 = 10;

/// `wrk` on `GET` item and on listing a folder of 1,000 files (`$top=1000`, one page).
pub async fn request_rates(server: &Server, backend: &str) -> anyhow::Result<RequestRates> {
    ensure_tool("wrk", "wrk")?;
    let c = Client::new(&server.url, &server.token);
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
    let listing = format!("/me/drive/items/{folder_id}/children?$top=1000");
    let page = c.get(&listing).await?;
    let listed = page["value"].as_array().map_or(0, Vec::len);
    if listed != 1000 {
        bail!("the listing returned {listed} children, not 1,000");
    }
    let list_bytes = serde_json::to_vec(&page)?.len();
    let base = format!("{}/v1.0/me/drive/items", server.url);
    let get_item = wrk(&format!("{base}/{item_id}"), &server.token)?;
    let list_1000 = wrk(
        &format!("{base}/{folder_id}/children?$top=1000"),
        &server.token,
    )?;
    Ok(RequestRates {
        backend: backend.into(),
        connections: CONNECTIONS,
        get_item,
        list_1000,
        list_bytes,
    })
}

pub(crate) fn wrk(url: &str, token: &str) -> anyhow::Result<LoadResult> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{LOAD_SECONDS}s"),
        ])
        .args(["--latency", "-H", &format!("Authorization: Bearer {token}")])
        .arg(url)
        .output()
        .context("run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}");
    }
    parse_wrk(&text).with_context(|| format!("unexpected wrk output: {text}"))
}

/// Reads `Requests/sec`, the 50% and 99% latencies and the non-2xx/3xx count from `wrk --latency`.
fn parse_wrk(text: &str) -> Option<LoadResult> {
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(|v| v.trim().to_string())
    };
    let errors = field("Non-2xx or 3xx responses:").map_or(Some(0), |v| v.parse().ok())?;
    Some(LoadResult {
        requests_per_s: field("Requests/sec:")?.parse().ok()?,
        p50_ms: wrk_millis(&field("50%")?)?,
        p99_ms: wrk_millis(&field("99%")?)?,
        errors,
    })
}

/// `812.00us`, `3.21ms`, `1.02s` → milliseconds.
fn wrk_millis(v: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * factor)
}

/// One 1 GiB file up and down through graphdrive and through nginx, with `curl`.
pub async fn transfers(server: &Server, work: &Path) -> anyhow::Result<Transfers> {
    ensure_tool("curl", "curl")?;
    let nginx = Nginx::start(&work.join("nginx"))?;
    let bytes: u64 = 1 << 30;
    let file = work.join("transfer.bin");
    std::fs::write(
        &file,
        (0..bytes as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect::<Vec<u8>>(),
    )?;
    let auth = format!("Authorization: Bearer {}", server.token);
    let content = format!("{}/v1.0/me/drive/root:/transfer.bin:/content", server.url);
    let nginx_url = format!("http://127.0.0.1:{}/transfer.bin", nginx.port);
    let c = Client::new(&server.url, &server.token);
    let mut t = Transfers {
        bytes,
        upload_put_s: median_of_3(|| curl(&["-H", &auth, "-T"], &file, &content))?,
        upload_session_s: 0.0,
        download_s: median_of_3(|| {
            curl(
                &["-L", "-H", &auth, "-o", "/dev/null"],
                &PathBuf::new(),
                &content,
            )
        })?,
        nginx_upload_s: median_of_3(|| curl(&["-T"], &file, &nginx_url))?,
        nginx_download_s: median_of_3(|| curl(&["-o", "/dev/null"], &PathBuf::new(), &nginx_url))?,
    };
    let mut sessions = vec![];
    for _ in 0..3 {
        sessions.push(c.upload_in_session("transfer-session.bin", &file).await?);
    }
    t.upload_session_s = median(sessions).as_secs_f64();
    let _ = std::fs::remove_file(&file);
    Ok(t)
}

fn median_of_3(mut f: impl FnMut() -> anyhow::Result<Duration>) -> anyhow::Result<f64> {
    let runs = (0..3).map(|_| f()).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(median(runs).as_secs_f64())
}

/// Times one `curl` (`args`, then `file` when not empty, then `url`); any HTTP status ≥ 400 is
/// an error.
fn curl(args: &[&str], file: &Path, url: &str) -> anyhow::Result<Duration> {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-S", "--fail", "-w", "%{http_code}"])
        .args(args);
    if !file.as_os_str().is_empty() {
        cmd.arg(file);
    }
    if !args.contains(&"-o") {
        cmd.args(["-o", "/dev/null"]);
    }
    let started = Instant::now();
    let out = cmd.arg(url).output().context("run curl")?;
    let took = started.elapsed();
    if !out.status.success() {
        bail!(
            "curl {url}: {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(took)
}

pub(crate) fn ensure_tool(bin: &str, package: &str) -> anyhow::Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {bin}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        install_debian_package(package)?;
    }
    Ok(())
}

/// nginx serving a folder on loopback, with WebDAV `PUT` on.
struct Nginx {
    dir: PathBuf,
    port: u16,
}

impl Nginx {
    fn start(dir: &Path) -> anyhow::Result<Self> {
        if !Path::new("/usr/sbin/nginx").exists() {
            install_debian_package("nginx-light")?;
        }
        let port = free_port()?;
        let www = dir.join("www");
        std::fs::create_dir_all(&www)?;
        std::fs::create_dir_all(dir.join("body"))?;
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "daemon on;\nuser www-data;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  sendfile on;\n  client_max_body_size 0;\n\
                 client_body_temp_path {d}/body;\n  proxy_temp_path {d}/body;\n\
                 fastcgi_temp_path {d}/body;\n  uwsgi_temp_path {d}/body;\n  scgi_temp_path {d}/body;\n\
                 server {{\n    listen 127.0.0.1:{port};\n    root {www};\n\
                 dav_methods PUT;\n    create_full_put_path on;\n  }}\n}}\n",
                d = dir.display(),
                www = www.display(),
            ),
        )?;
        // The workers run as www-data: they must be able to write what is PUT.
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(dir)
            .status()?;
        let ok = Command::new("/usr/sbin/nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-p")
            .arg(dir)
            .status()?
            .success();
        if !ok {
            bail!(
                "nginx did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(300));
        Ok(Self {
            dir: dir.to_path_buf(),
            port,
        })
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = std::fs::read_to_string(self.dir.join("nginx.pid")).unwrap_or_default();
        if let Ok(pid) = pid.trim().parse::<u32>() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 10s test @ http://127.0.0.1:1/x\n  2 threads and 64 connections\n\
            Thread Stats   Avg      Stdev     Max   +/- Stdev\n\
              Latency     3.10ms    1.00ms  20.00ms   90.00%\n\
            Latency Distribution\n     50%    2.95ms\n     75%    3.50ms\n     90%    4.10ms\n     99%  812.00us\n\
            200000 requests in 10.00s, 100.00MB read\n  Non-2xx or 3xx responses: 3\n\
            Requests/sec:  20000.50\nTransfer/sec:     10.00MB\n";
        let r = parse_wrk(text).unwrap();
        assert_eq!(r.requests_per_s, 20000.5);
        assert_eq!(r.p50_ms, 2.95);
        assert!((r.p99_ms - 0.812).abs() < 1e-9);
        assert_eq!(r.errors, 3);
        assert_eq!(wrk_millis("1.50s"), Some(1500.0));
        assert_eq!(wrk_millis("7"), None);
    }
}
