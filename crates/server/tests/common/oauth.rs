//! Sign-in from a test: a browser stand-in that keeps cookies and fills the server's forms, the
//! token endpoint, PKCE, and the users and apps the operator's commands make.

use std::process::Stdio;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::Digest;

use super::{Resp, TestServer};

/// A browser without scripts: follows nothing by itself, keeps the cookies it is given.
pub struct Browser {
    http: reqwest::Client,
    cookies: Vec<(String, String)>,
}

impl Browser {
    pub fn new() -> Self {
        Self::with_client(reqwest::Client::builder())
    }

    pub fn with_client(builder: reqwest::ClientBuilder) -> Self {
        Self {
            http: builder
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: vec![],
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn keep(&mut self, res: reqwest::Response) -> Resp {
        for v in res.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap();
            let (k, val) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != k);
            if !val.is_empty() {
                self.cookies.push((k.to_string(), val.to_string()));
            }
        }
        Resp {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn get(&mut self, url: &str) -> Resp {
        let res = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(String, String)]) -> Resp {
        let res = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep(res).await
    }

    pub fn forget_cookies(&mut self) {
        self.cookies.clear();
    }
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(unescape(&tag[start..end]))
}

/// The named inputs of a page's form, with their values.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

/// `fields` with some values set.
pub fn filled(fields: &[(String, String)], values: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| !values.iter().any(|(n, _)| n == k))
        .cloned()
        .collect();
    out.extend(values.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// An authorization URL of the server's `common` authority.
pub fn authorize_url(server: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{server}/common/oauth2/v2.0/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

/// Opens the sign-in page at `url`, signs in, and returns the redirect's `Location`.
pub async fn sign_in(browser: &mut Browser, url: &str, user: &str, password: &str) -> String {
    let page = browser.get(url).await;
    assert_eq!(page.status, StatusCode::OK, "sign-in page: {}", page.text());
    let html = page.text();
    assert!(
        html.contains("Username") && html.contains("Password"),
        "{html}"
    );
    let action = attr(&html[html.find("<form").unwrap()..], "action");
    let fields = filled(
        &form_fields(&html),
        &[("username", user), ("password", password)],
    );
    let res = browser
        .post_form(action.as_deref().unwrap_or(url), &fields)
        .await;
    assert_eq!(res.status, StatusCode::FOUND, "sign-in: {}", res.text());
    res.header("location").unwrap()
}

/// Posts a form to the server's token endpoint (tenant `common`).
pub async fn token(server: &str, form: &[(&str, &str)]) -> Resp {
    let res = reqwest::Client::new()
        .post(format!("{server}/common/oauth2/v2.0/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    Resp {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

/// Asserts an OAuth error with this status and code; returns its body.
#[track_caller]
pub fn expect_oauth_error(res: Resp, status: u16, code: &str) -> Value {
    let body = res.expect(status).json();
    assert_eq!(body["error"], code, "unexpected error: {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

/// The claims of a JWT, read without checking it.
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// A registered app.
pub struct App {
    pub client_id: String,
    pub secret: Option<String>,
}

impl TestServer {
    /// Runs a command with `input` on its standard input; returns its trimmed stdout.
    pub fn cli_stdin(&self, args: &[&str], input: &str) -> String {
        use std::io::Write;
        let mut child = self
            .cli_command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        super::succeeded(args, child.wait_with_output().unwrap())
    }

    /// Adds a user who signs in with `password`; returns the user's id.
    pub fn add_user_with_password(&self, name: &str, password: &str) -> String {
        self.cli_stdin(
            &["user", "add", name, "--password-stdin"],
            &format!("{password}\n"),
        )
    }

    /// Registers an app (`graphdrive app add NAME ARGS…`).
    pub fn add_app(&self, name: &str, args: &[&str]) -> App {
        let mut all = vec!["--json", "app", "add", name];
        all.extend_from_slice(args);
        let v: Value = serde_json::from_str(&self.cli(&all)).unwrap();
        App {
            client_id: v["client_id"].as_str().unwrap().to_string(),
            secret: v["client_secret"].as_str().map(str::to_string),
        }
    }

    pub fn tenant(&self) -> String {
        self.cli(&["tenant"])
    }
}

/// A self-signed certificate for 127.0.0.1 and localhost, and its key.
pub fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ])
        .args([
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A test server on HTTPS with a certificate of its own, and a client that trusts it.
pub struct Https {
    pub server: TestServer,
    pub http: reqwest::Client,
    /// The certificate (PEM), for clients to trust.
    pub ca: String,
    _certs: tempfile::TempDir,
}

impl Https {
    pub async fn start(backend: super::Backend, extra: &[&str]) -> Self {
        let certs = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed(certs.path());
        let (ca, key) = (
            cert.to_string_lossy().to_string(),
            key.to_string_lossy().to_string(),
        );
        let mut args = vec!["--tls-cert", ca.as_str(), "--tls-key", key.as_str()];
        args.extend_from_slice(extra);
        let server = TestServer::start_with(backend, &args).await;
        let pem = std::fs::read(&cert).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        Self {
            server,
            http,
            ca,
            _certs: certs,
        }
    }
}
