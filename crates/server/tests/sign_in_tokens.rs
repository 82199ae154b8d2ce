//! What tokens are worth over time: refresh-token rotation and reuse, app-only tokens, the
//! password grant, access lost with a disabled user or a removed app, key rotation, tokens this
//! server did not issue, and HTTPS.

mod common;

use std::path::Path;
use std::process::Command;

use common::oauth::{claims, expect_oauth_error, token};
use common::{Backend, TestServer};
use serde_json::Value;

on_every_backend!(
    refresh_tokens_rotate_and_reuse_revokes,
    client_credentials_tokens,
    password_grant,
    disabled_users_and_removed_apps,
    key_rotation,
    foreign_tokens_are_refused,
    https,
);

const PASSWORD: &str = "correct horse battery";

/// A server with the password grant on, a user, and a public client; the client's id.
async fn with_password_grant(backend: Backend, extra: &[&str]) -> (TestServer, String) {
    let mut args = vec!["--allow-password-grant"];
    args.extend_from_slice(extra);
    let server = TestServer::start_with(backend, &args).await;
    server.add_user_with_password("alice", PASSWORD);
    let app = server.add_app("script", &["--public"]);
    (server, app.client_id)
}

async fn password_tokens(server: &TestServer, client: &str, scope: &str) -> Value {
    token(
        &server.url,
        &[
            ("grant_type", "password"),
            ("client_id", client),
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", scope),
        ],
    )
    .await
    .expect(200)
    .json()
}

async fn refresh(server: &TestServer, client: &str, refresh_token: &str) -> common::Resp {
    token(
        &server.url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn refresh_tokens_rotate_and_reuse_revokes(backend: Backend) {
    let (server, client) = with_password_grant(backend, &[]).await;
    let first = password_tokens(&server, &client, "Files.ReadWrite offline_access").await;
    let r1 = first["refresh_token"].as_str().unwrap();
    let second = refresh(&server, &client, r1).await.expect(200).json();
    let r2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(r1, r2, "the refresh token is rotated");
    assert_eq!(second["scope"], "Files.ReadWrite offline_access");
    server
        .client(second["access_token"].as_str().unwrap())
        .get("/me/drive")
        .await
        .expect(200);
    // The spent token presented again (a stolen copy): refused, and the family is revoked, so
    // the token that replaced it stops working too.
    let body = expect_oauth_error(refresh(&server, &client, r1).await, 400, "invalid_grant");
    assert_eq!(body["error_codes"][0], 70043);
    expect_oauth_error(refresh(&server, &client, r2).await, 400, "invalid_grant");
    // Another sign-in is not affected by that family's end.
    let other = password_tokens(&server, &client, "Files.Read offline_access").await;
    let r3 = other["refresh_token"].as_str().unwrap();
    // A refresh may narrow the scopes, not widen them.
    let narrowed = token(
        &server.url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", r3),
            ("scope", "Files.ReadWrite"),
        ],
    )
    .await;
    expect_oauth_error(narrowed, 400, "invalid_scope");
    // A refresh token belongs to its client.
    let stranger = server.add_app("stranger", &["--public"]);
    expect_oauth_error(
        refresh(&server, &stranger.client_id, r3).await,
        400,
        "invalid_grant",
    );
    refresh(&server, &client, r3).await.expect(200);
    // A new password ends every sign-in.
    let fresh = password_tokens(&server, &client, "Files.Read offline_access").await;
    server.cli_stdin(&["user", "passwd", "alice"], "a whole new password\n");
    expect_oauth_error(
        refresh(&server, &client, fresh["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );
}

async fn client_credentials_tokens(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.new_user("alice");
    alice.upload("report.txt", b"quarterly".to_vec()).await;
    let drive_id = alice.get("/me/drive").await.expect(200).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let daemon = server.add_app("backup", &["--role", "Files.Read.All"]);
    let secret = daemon.secret.clone().unwrap();
    let grant = |scope: &'static str, secret: String| {
        let (url, id) = (server.url.clone(), daemon.client_id.clone());
        async move {
            token(
                &url,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &id),
                    ("client_secret", &secret),
                    ("scope", scope),
                ],
            )
            .await
        }
    };
    let t = grant("https://graph.microsoft.com/.default", secret.clone())
        .await
        .expect(200)
        .json();
    assert!(t.get("refresh_token").is_none());
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["roles"], serde_json::json!(["Files.Read.All"]));
    assert_eq!((c["idtyp"].as_str(), c.get("scp")), (Some("app"), None));
    let app = server.client(t["access_token"].as_str().unwrap());
    app.get(&format!("/drives/{drive_id}/root:/report.txt"))
        .await
        .expect(200);
    app.put(
        &format!("/drives/{drive_id}/root:/x.txt:/content"),
        b"x".to_vec(),
    )
    .await
    .expect_error(403, "accessDenied");
    // Only `.default`, only with the secret, only for confidential clients.
    let body = expect_oauth_error(
        grant("Files.Read.All", secret.clone()).await,
        400,
        "invalid_scope",
    );
    assert_eq!(body["error_codes"][0], 1002012);
    expect_oauth_error(
        grant(".default", "nope".into()).await,
        401,
        "invalid_client",
    );
    let public = server.add_app("phone", &["--public"]);
    let res = token(
        &server.url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &public.client_id),
            ("scope", ".default"),
        ],
    )
    .await;
    expect_oauth_error(res, 400, "unauthorized_client");
    let unknown = token(
        &server.url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "nobody"),
            ("scope", ".default"),
        ],
    )
    .await;
    expect_oauth_error(unknown, 401, "invalid_client");
    expect_oauth_error(
        token(
            &server.url,
            &[("grant_type", "magic"), ("client_id", &public.client_id)],
        )
        .await,
        400,
        "unsupported_grant_type",
    );
}

async fn password_grant(backend: Backend) {
    // Off unless asked for.
    let server = TestServer::start(backend).await;
    server.add_user_with_password("alice", PASSWORD);
    let app = server.add_app("script", &["--public"]);
    let form = [
        ("grant_type", "password"),
        ("client_id", app.client_id.as_str()),
        ("username", "alice"),
        ("password", PASSWORD),
        ("scope", "Files.Read"),
    ];
    let body = expect_oauth_error(
        token(&server.url, &form).await,
        400,
        "unsupported_grant_type",
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("--allow-password-grant")
    );
    drop(server);

    let (server, client) = with_password_grant(backend, &[]).await;
    let t = password_tokens(&server, &client, "Files.ReadWrite openid").await;
    assert!(t["id_token"].is_string());
    let wrong = |user: &'static str| {
        let (url, client) = (server.url.clone(), client.clone());
        async move {
            token(
                &url,
                &[
                    ("grant_type", "password"),
                    ("client_id", &client),
                    ("username", user),
                    ("password", "not it"),
                    ("scope", "Files.Read"),
                ],
            )
            .await
        }
    };
    let a = expect_oauth_error(wrong("alice").await, 400, "invalid_grant");
    let b = expect_oauth_error(wrong("nobody").await, 400, "invalid_grant");
    assert_eq!(
        a["error_description"], b["error_description"],
        "no user enumeration"
    );
    // Five failures for one user name, then even the right password is refused for a while.
    for _ in 0..4 {
        wrong("alice").await;
    }
    let blocked = token(
        &server.url,
        &[
            ("grant_type", "password"),
            ("client_id", &client),
            ("username", "alice"),
            ("password", PASSWORD),
            ("scope", "Files.Read"),
        ],
    )
    .await;
    let body = expect_oauth_error(blocked, 400, "invalid_grant");
    assert_eq!(body["error_codes"][0], 50053);
}

async fn disabled_users_and_removed_apps(backend: Backend) {
    let (server, client) = with_password_grant(backend, &[]).await;
    let t = password_tokens(&server, &client, "Files.ReadWrite offline_access").await;
    let api = server.client(t["access_token"].as_str().unwrap());
    api.get("/me/drive").await.expect(200);
    server.cli(&["user", "disable", "alice"]);
    api.get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    expect_oauth_error(
        refresh(&server, &client, t["refresh_token"].as_str().unwrap()).await,
        400,
        "invalid_grant",
    );
    server.cli(&["user", "enable", "alice"]);

    // Removing the app ends what was issued through it at once: access and refresh tokens.
    let t = password_tokens(&server, &client, "Files.ReadWrite offline_access").await;
    let api = server.client(t["access_token"].as_str().unwrap());
    api.get("/me/drive").await.expect(200);
    server.cli(&["app", "remove", "script"]);
    api.get("/me/drive")
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    expect_oauth_error(
        refresh(&server, &client, t["refresh_token"].as_str().unwrap()).await,
        401,
        "invalid_client",
    );
    // An app's own (app-only) token goes with it too.
    let daemon = server.add_app("daemon", &["--role", "Files.ReadWrite.All"]);
    let t = token(
        &server.url,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &daemon.client_id),
            ("client_secret", daemon.secret.as_deref().unwrap()),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
    .expect(200)
    .json();
    let app = server.client(t["access_token"].as_str().unwrap());
    let drive = server.new_user("bob").get("/me/drive").await.json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/drives/{drive}")).await.expect(200);
    server.cli(&["app", "remove", "daemon"]);
    app.get(&format!("/drives/{drive}"))
        .await
        .expect_error(401, "InvalidAuthenticationToken");
    // The built-in client cannot be removed.
    assert!(
        !server
            .cli_output(&["app", "remove", "b15665d9-eda6-4092-8539-0eec376afd59"])
            .status
            .success()
    );
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = reqwest::get(format!("{}/common/discovery/v2.0/keys", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Waits (up to 10 s) until `check` holds: the nodes read keys again every few seconds.
async fn eventually(mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("not within 10 s");
}

async fn key_rotation(backend: Backend) {
    let server = TestServer::start(backend).await;
    let old_token = server.user_token("alice", &["Files.Read"]);
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    let new_kid = server.cli(&["keys", "rotate"]);
    assert_ne!(new_kid, old_kid);
    // Both keys are published; the old one's tokens still work; new tokens name the new key.
    eventually(async || jwks_kids(&server).await.len() == 2).await;
    let new_token = server.user_token("alice", &["Files.Read"]);
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .unwrap(),
        new_kid
    );
    server.client(&old_token).get("/me/drive").await.expect(200);
    server.client(&new_token).get("/me/drive").await.expect(200);
    let listed = server.cli(&["keys", "list"]);
    assert!(
        listed.contains("retiring") && listed.contains("signing"),
        "{listed}"
    );
    // Retired, the old key is neither published nor accepted.
    server.cli(&["keys", "retire", &old_kid]);
    eventually(async || jwks_kids(&server).await == [new_kid.clone()]).await;
    let old = server.client(&old_token);
    eventually(async || old.get("/me/drive").await.status == 401).await;
    server.client(&new_token).get("/me/drive").await.expect(200);
}

/// An RSA key of the test's own (PKCS#1 DER).
fn foreign_key(dir: &Path) -> Vec<u8> {
    let (pem, der) = (dir.join("foreign.pem"), dir.join("foreign.der"));
    for args in [
        vec![
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            pem.to_str().unwrap(),
        ],
        vec![
            "rsa",
            "-in",
            pem.to_str().unwrap(),
            "-traditional",
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ],
    ] {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::read(der).unwrap()
}

async fn foreign_tokens_are_refused(backend: Backend) {
    let server = TestServer::start(backend).await;
    let genuine = server.user_token("alice", &["Files.ReadWrite"]);
    let mut c = claims(&genuine);
    let kid = jsonwebtoken::decode_header(&genuine).unwrap().kid.unwrap();
    let key = foreign_key(server.data_dir.path());
    let sign = |claims: &Value, kid: &str| {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some(kid.to_string());
        jsonwebtoken::encode(&h, claims, &jsonwebtoken::EncodingKey::from_rsa_der(&key)).unwrap()
    };
    // Same claims, same kid, another key: a forgery.
    let forged = sign(&c, &kid);
    // Another issuer, not trusted.
    c["iss"] = "https://login.example.com/v2.0".into();
    let untrusted = sign(&c, "other");
    // Symmetric "alg" tricks and no signature.
    let mut parts: Vec<&str> = genuine.split('.').collect();
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        format!(r#"{{"alg":"none","kid":"{kid}"}}"#),
    );
    parts[0] = &none_header;
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    for bad in [forged, untrusted, unsigned, "not.a.jwt".into()] {
        server
            .client(&bad)
            .get("/me/drive")
            .await
            .expect_error(401, "InvalidAuthenticationToken");
    }
    server.client(&genuine).get("/me/drive").await.expect(200);
}

async fn https(backend: Backend) {
    let https = common::oauth::Https::start(backend, &[]).await;
    let (server, http) = (&https.server, &https.http);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let doc: Value = http
        .get(format!(
            "{}/common/v2.0/.well-known/openid-configuration",
            server.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let token = server.user_token("alice", &["Files.ReadWrite"]);
    let me: Value = http
        .get(format!("{}/v1.0/me/drive", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(me["id"].is_string(), "{me}");
    // A client that does not trust the certificate fails the handshake; plain HTTP is not served.
    assert!(
        reqwest::get(format!("{}/health/live", server.url))
            .await
            .is_err()
    );
    let plain = server.url.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/health/live")).await.is_err());
}
