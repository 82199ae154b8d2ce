//! Real clients signing in: rclone's authorization code flow and its refreshes, azure-identity
//! (client secret, password and device code credentials) under the Graph SDK for Python, and
//! the tokens of a real OpenID Connect provider that the server trusts.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::idp::Idp;
use common::oauth::{Browser, Https, sign_in};
use common::rclone::{Rclone, tool};
use common::{Backend, TestServer};
use serde_json::{Value, json};

on_every_backend!(
    rclone_signs_in_and_keeps_refreshing,
    azure_identity_credentials,
    trusted_issuer
);

const PASSWORD: &str = "correct horse battery";

/// rclone's sign-in listens on one fixed port (53682): one rclone sign-in at a time.
static RCLONE_PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn count(server: &TestServer, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&server.metadata)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    n
}

fn saved_token(config: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(config).unwrap();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("token = "))
        .unwrap_or_else(|| panic!("no token in {text}"));
    serde_json::from_str(line).unwrap()
}

/// `rclone config create` with rclone's own client id (no app registration), completed by a
/// browser stand-in that signs in on the page rclone sends it to.
async fn rclone_config_create(server: &TestServer, drive: &str, config: &std::path::Path) {
    let bin = Rclone::with_config(config).bin().to_path_buf();
    let mut child = Command::new(bin)
        .env("RCLONE_CONFIG", config)
        .args(["config", "create", "gd", "onedrive"])
        .arg(format!(
            "auth_url={}/common/oauth2/v2.0/authorize",
            server.url
        ))
        .arg(format!("token_url={}/common/oauth2/v2.0/token", server.url))
        .arg(format!("tenant_url={}/_api", server.url))
        .args(["config_is_local=true", "config_type=driveid"])
        .arg(format!("config_driveid_fixed={drive}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rclone");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log = said.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            log.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(at) = line.find("http://127.0.0.1:53682/auth?state=") {
                let url = line[at..].split_whitespace().next().unwrap().to_string();
                let _ = tx.send(url);
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!(
                "rclone did not print the sign-in link ({e}); it said:\n{}",
                said.lock().unwrap()
            )
        });
    let mut browser = Browser::new();
    let to_server = browser.get(&url).await;
    assert_eq!(to_server.status, 307, "{}", to_server.text());
    let authorize = to_server.header("location").unwrap();
    assert!(authorize.starts_with(&server.url), "{authorize}");
    let back = sign_in(&mut browser, &authorize, "alice", PASSWORD).await;
    assert!(back.starts_with("http://localhost:53682/?code="), "{back}");
    let done = browser.get(&back.replace("localhost", "127.0.0.1")).await;
    assert!(done.text().contains("Success"), "{}", done.text());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("rclone config create did not finish");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "rclone config create failed");
}

async fn rclone_signs_in_and_keeps_refreshing(backend: Backend) {
    let _port = RCLONE_PORT.lock().await;
    // Access tokens of 12 s: rclone counts a token as expired 10 s before its end, so it
    // refreshes about every two seconds, within one command and from one command to the next.
    let server = TestServer::start_with(backend, &["--access-token-lifetime", "12"]).await;
    server.add_user_with_password("alice", PASSWORD);
    let drive = server.new_user("alice").get("/me/drive").await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let work = tempfile::tempdir().unwrap();
    let config = work.path().join("rclone.conf");
    rclone_config_create(&server, &drive, &config).await;
    let first = saved_token(&config);
    assert!(first["refresh_token"].is_string(), "{first}");

    let local = work.path().join("local");
    std::fs::create_dir(&local).unwrap();
    for i in 0..12 {
        std::fs::write(
            local.join(format!("f{i}.txt")),
            format!("file {i}\n").repeat(i + 1),
        )
        .unwrap();
    }
    let rclone = Rclone::with_config(&config);
    let local_s = local.to_string_lossy().to_string();
    let started = Instant::now();
    // One command that runs for half a minute, refreshing as it goes.
    rclone.run(&[
        "copy",
        &local_s,
        "gd:synced",
        "--tpslimit",
        "1",
        "--transfers",
        "1",
    ]);
    assert!(
        started.elapsed() > Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Then commands that each start with the token the last one wrote back.
    while started.elapsed() < Duration::from_secs(50) {
        rclone.run(&["check", &local_s, "gd:synced"]);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    let listed = rclone.run(&["lsf", "gd:synced"]);
    assert_eq!(listed.lines().count(), 12, "{listed}");
    // Every refresh rotated the token and rclone kept the newest: one family, one live token,
    // which is the one in rclone's config.
    let rotations = count(
        &server,
        "SELECT COUNT(*) FROM refresh_tokens WHERE spent_at IS NOT NULL",
    )
    .await;
    assert!(rotations >= 10, "only {rotations} refreshes");
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(DISTINCT family_id) FROM refresh_tokens"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &server,
            "SELECT COUNT(*) FROM refresh_tokens WHERE spent_at IS NULL"
        )
        .await,
        1
    );
    let last = saved_token(&config);
    assert_ne!(last["refresh_token"], first["refresh_token"]);
    let token = reqwest::Client::new()
        .post(format!("{}/common/oauth2/v2.0/token", server.url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "b15665d9-eda6-4092-8539-0eec376afd59"),
            ("refresh_token", last["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        token.status(),
        200,
        "the saved refresh token is the live one"
    );
}

async fn azure_identity_credentials(backend: Backend) {
    let https = Https::start(
        backend,
        &["--allow-password-grant", "--device-code-interval", "1"],
    )
    .await;
    let (server, http, cert_s) = (&https.server, &https.http, &https.ca);
    let alice_id = server.add_user_with_password("alice", PASSWORD);
    let daemon = server.add_app("daemon", &["--role", "Files.ReadWrite.All"]);
    let public = server.add_app("py", &["--public"]);
    let alice_token = server.token(&["--user", "alice"], &["Files.ReadWrite"]);
    let drive: Value = http
        .get(format!("{}/v1.0/me/drive", server.url))
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let config = json!({
        "url": server.url, "authority": server.url, "ca": cert_s, "tenant": server.tenant(),
        "app_id": daemon.client_id, "app_secret": daemon.secret,
        "public_id": public.client_id, "user": "alice", "password": PASSWORD,
        "drive": drive["id"],
    });
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/sign_in.py");
    let out = Command::new(tool("GRAPHDRIVE_PYTHON", "python"))
        .arg(script)
        .arg(config.to_string())
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "sign_in.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        seen["client_secret"]["names"],
        json!(["from-daemon.txt"]),
        "{seen}"
    );
    let app = common::oauth::claims(seen["client_secret_token"].as_str().unwrap());
    assert_eq!(app["roles"], json!(["Files.ReadWrite.All"]));
    assert_eq!(app["azp"], daemon.client_id.as_str());
    for flow in ["password", "device"] {
        assert_eq!(seen[flow]["drive"], drive["id"], "{seen}");
        assert_eq!(
            seen[flow]["size"],
            format!("written with {flow}").len(),
            "{seen}"
        );
    }
    assert_eq!(seen["device_again"], true);
    // The files are alice's.
    let item: Value = http
        .get(format!("{}/v1.0/me/drive/root:/device.txt", server.url))
        .bearer_auth(&alice_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(item["createdBy"]["user"]["id"], alice_id.as_str(), "{item}");
}

async fn trusted_issuer(backend: Backend) {
    let idp = Idp::start();
    let server = TestServer::start_with(backend, &["--trusted-issuer", &idp.issuer]).await;
    // A local user with the provider's user's name: the provider's alice is someone else.
    let local = server.new_user("alice@contoso.test");
    local.upload("local-secret.txt", b"mine".to_vec()).await;

    let alice = server.client(
        &idp.user_token("alice", "Files.ReadWrite", "https://graph.microsoft.com")
            .await,
    );
    let drive = alice.get("/me/drive").await.expect(200).json();
    assert_ne!(drive["id"], local.get("/me/drive").await.json()["id"]);
    alice.upload("from-idp.txt", b"federated".to_vec()).await;
    alice
        .get("/me/drive/root:/local-secret.txt")
        .await
        .expect_error(404, "itemNotFound");
    let users: Value = serde_json::from_str(&server.cli(&["--json", "user", "list"])).unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    let mapped = names
        .iter()
        .find(|n| n.starts_with("alice@contoso.test-"))
        .unwrap_or_else(|| panic!("no mapped user: {names:?}"))
        .to_string();
    // Its groups claim made groups, with alice in them.
    for g in ["g-readers", "g-writers"] {
        let group: Value =
            serde_json::from_str(&server.cli(&["--json", "group", "show", g])).unwrap();
        assert!(group.to_string().contains(&mapped), "{group}");
    }
    // The same user next time is the same principal.
    let again = server.client(
        &idp.user_token("alice", "Files.Read", "https://graph.microsoft.com")
            .await,
    );
    again.get("/me/drive/root:/from-idp.txt").await.expect(200);
    again
        .put("/me/drive/root:/x.txt:/content", b"x".to_vec())
        .await
        .expect_error(403, "accessDenied");

    // App-only tokens carry roles.
    let app = server.client(&idp.app_token().await);
    let alice_drive = drive["id"].as_str().unwrap();
    app.get(&format!("/drives/{alice_drive}/root:/from-idp.txt"))
        .await
        .expect(200);

    // The wrong audience, and the same token at a server that does not trust the provider.
    let other = idp
        .user_token("bob", "Files.ReadWrite", "https://other.example")
        .await;
    server
        .client(&other)
        .get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    let stranger = TestServer::start(backend).await;
    let token = idp
        .user_token("bob", "Files.ReadWrite", "https://graph.microsoft.com")
        .await;
    stranger
        .client(&token)
        .get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    server.client(&token).get("/me/drive").await.expect(200);
    // Disabling the mapped user works as for anyone.
    server.cli(&["user", "disable", &mapped]);
    alice
        .get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
}
