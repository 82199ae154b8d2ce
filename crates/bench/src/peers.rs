//! What the peers take for the same job: `cp -r` of real files, and one WebDAV `COPY` (Depth:
//! infinity) through Apache httpd's mod_dav, started here on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Writes `folders` × `files` files of `size` bytes (distinct contents) under `root`.
pub fn make_tree(root: &Path, folders: usize, files: usize, size: usize) -> anyhow::Result<()> {
    for d in 0..folders {
        let dir = root.join(format!("d{d:03}"));
        std::fs::create_dir_all(&dir)?;
        for f in 0..files {
            let seed = (d * files + f) as u32;
            let bytes: Vec<u8> = (0..size as u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) ^ seed) as u8)
                .collect();
            std::fs::write(dir.join(format!("f{f:03}.bin")), bytes)?;
        }
    }
    Ok(())
}

/// Median of `runs` timings of `cp -r src dst` (dst removed between runs).
pub fn cp_r(src: &Path, dst: &Path, runs: usize) -> anyhow::Result<Duration> {
    let mut times = vec![];
    for _ in 0..runs {
        let _ = std::fs::remove_dir_all(dst);
        let t = Instant::now();
        let status = Command::new("cp").arg("-r").arg(src).arg(dst).status()?;
        times.push(t.elapsed());
        if !status.success() {
            bail!("cp -r failed");
        }
    }
    let _ = std::fs::remove_dir_all(dst);
    Ok(median(times))
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// An Apache httpd serving WebDAV on loopback from `root/www`.
pub struct Apache {
    dir: PathBuf,
    conf: PathBuf,
    pub port: u16,
}

impl Apache {
    /// Starts Apache (installing Debian's `apache2` first when it is missing).
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let bin = Path::new("/usr/sbin/apache2");
        if !bin.exists() {
            install_debian_package("apache2")?;
        }
        let port = free_port()?;
        let www = dir.join("www");
        std::fs::create_dir_all(&www)?;
        let modules = "/usr/lib/apache2/modules";
        let conf = dir.join("httpd.conf");
        std::fs::write(
            &conf,
            format!(
                "ServerRoot {d}\nServerName localhost\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\n\
                 Mutex file:{d}\nErrorLog {d}/error.log\nUser www-data\nGroup www-data\n\
                 LoadModule mpm_event_module {modules}/mod_mpm_event.so\n\
                 LoadModule authz_core_module {modules}/mod_authz_core.so\n\
                 LoadModule dav_module {modules}/mod_dav.so\n\
                 LoadModule dav_fs_module {modules}/mod_dav_fs.so\n\
                 DavLockDB {d}/DavLock\nDocumentRoot {www}\n\
                 <Directory {www}>\n  Dav On\n  Require all granted\n</Directory>\n",
                d = dir.display(),
                www = www.display(),
            ),
        )?;
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(dir)
            .status()?;
        let ok = Command::new(bin)
            .arg("-f")
            .arg(&conf)
            .args(["-k", "start"])
            .status()?
            .success();
        if !ok {
            bail!(
                "apache2 did not start: {}",
                std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
        Ok(Self {
            dir: dir.to_path_buf(),
            conf,
            port,
        })
    }

    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }

    /// Median of `runs` `COPY /src/ → /dst/` (Depth: infinity), deleting `/dst/` between runs.
    pub async fn copy(&self, runs: usize) -> anyhow::Result<Duration> {
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{}", self.port);
        let copy = reqwest::Method::from_bytes(b"COPY")?;
        let mut times = vec![];
        for _ in 0..runs {
            let _ = http.delete(format!("{base}/dst/")).send().await;
            let t = Instant::now();
            let r = http
                .request(copy.clone(), format!("{base}/src/"))
                .header("Destination", format!("{base}/dst/"))
                .header("Depth", "infinity")
                .send()
                .await?;
            times.push(t.elapsed());
            if !r.status().is_success() {
                bail!("WebDAV COPY: {}", r.status());
            }
        }
        let _ = http.delete(format!("{base}/dst/")).send().await;
        Ok(median(times))
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(&self.conf)
            .args(["-k", "stop"])
            .status();
    }
}

/// Installs one of Debian's packages for a baseline.
pub fn install_debian_package(package: &str) -> anyhow::Result<()> {
    eprintln!("installing {package} (Debian) for a baseline…");
    let ok = Command::new("sh")
        .args([
            "-c",
            &format!("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package} >/dev/null"),
        ])
        .status()?
        .success();
    if !ok {
        bail!("{package} is not available");
    }
    Ok(())
}

pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("free port")?;
    Ok(l.local_addr()?.port())
}
