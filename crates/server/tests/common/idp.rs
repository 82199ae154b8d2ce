//! A real OpenID Connect provider (npm `oidc-provider`, in `tests/idp`) that a test server
//! trusts, and the tokens it issues.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

pub struct Idp {
    pub issuer: String,
    child: Child,
}

impl Idp {
    /// Starts the provider on a free port (`scripts/test` installs its packages).
    pub fn start() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp");
        assert!(
            dir.join("node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: run scripts/test (npm ci in {})",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("idp.mjs")
            .arg("0")
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line)
            .expect("read the provider's issuer");
        // Keep reading what it prints, so that it never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let issuer = line
            .strip_prefix("ISSUER ")
            .unwrap_or_else(|| panic!("unexpected output: {line:?}"))
            .trim()
            .to_string();
        Self { issuer, child }
    }

    async fn token(&self, form: &[(&str, &str)]) -> Value {
        let res = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(status.is_success(), "the provider refused: {body}");
        body
    }

    /// A delegated access token for one of the provider's users (alice, bob), for `resource`.
    pub async fn user_token(&self, user: &str, scope: &str, resource: &str) -> String {
        let t = self
            .token(&[
                ("grant_type", "password"),
                ("client_id", "graphdrive-test"),
                ("client_secret", "graphdrive-test-secret"),
                ("username", user),
                ("password", user),
                ("scope", scope),
                ("resource", resource),
            ])
            .await;
        t["access_token"].as_str().unwrap().to_string()
    }

    /// An app-only token of the provider's client `graphdrive-test` (role Files.ReadWrite.All).
    pub async fn app_token(&self) -> String {
        let t = self
            .token(&[
                ("grant_type", "client_credentials"),
                ("client_id", "graphdrive-test"),
                ("client_secret", "graphdrive-test-secret"),
                ("scope", "Files.ReadWrite.All"),
                ("resource", "https://graph.microsoft.com"),
            ])
            .await;
        t["access_token"].as_str().unwrap().to_string()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
