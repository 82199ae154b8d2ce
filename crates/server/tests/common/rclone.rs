//! rclone (the onedrive backend) configured against a test server, as a user would set it up.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::TestServer;

/// A client tool from `.venv` (installed by `scripts/test`), or from the variable `env`.
pub fn tool(env: &str, venv_bin: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.venv/bin")
        .join(venv_bin);
    assert!(
        p.exists(),
        "{} not found: run scripts/test (or set {env})",
        p.display()
    );
    p
}

pub struct Rclone {
    bin: PathBuf,
    envs: Vec<(String, String)>,
}

impl Rclone {
    pub fn new(server: &TestServer, token: &str, drive_id: &str, config_dir: &Path) -> Self {
        let token_json = format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","refresh_token":"x","expiry":"2099-01-01T00:00:00Z"}}"#
        );
        let envs = [
            (
                "RCLONE_CONFIG",
                config_dir.join("rclone.conf").to_string_lossy().to_string(),
            ),
            ("RCLONE_CONFIG_GD_TYPE", "onedrive".into()),
            ("RCLONE_CONFIG_GD_DRIVE_TYPE", "business".into()),
            ("RCLONE_CONFIG_GD_DRIVE_ID", drive_id.into()),
            (
                "RCLONE_CONFIG_GD_TENANT_URL",
                format!("{}/_api", server.url),
            ),
            ("RCLONE_CONFIG_GD_TOKEN", token_json),
        ];
        Self {
            bin: tool("GRAPHDRIVE_RCLONE", "rclone"),
            envs: envs.map(|(k, v)| (k.to_string(), v)).to_vec(),
        }
    }

    /// rclone with the remotes of a config file (which it writes refreshed tokens back to).
    pub fn with_config(config: &Path) -> Self {
        Self {
            bin: tool("GRAPHDRIVE_RCLONE", "rclone"),
            envs: vec![("RCLONE_CONFIG".into(), config.to_string_lossy().to_string())],
        }
    }

    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Runs rclone (one retry at most, 320 KiB upload fragments) and returns what it did.
    pub fn output(&self, args: &[&str]) -> Output {
        Command::new(&self.bin)
            .args([
                "--retries",
                "1",
                "--low-level-retries",
                "1",
                "--onedrive-chunk-size",
                "320k",
            ])
            .args(args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run rclone")
    }

    /// Runs rclone; panics with its output unless it succeeds. Returns stdout.
    pub fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "rclone {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Runs a Python client script of `tests/clients` against `server` with `token`; panics unless
/// it succeeds, and returns the JSON it prints.
pub fn run_sdk_script(script: &str, server: &TestServer, token: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    let out = Command::new(tool("GRAPHDRIVE_PYTHON", "python"))
        .arg(&path)
        .args([&server.url, token])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}
