//! Signing in through the browser-facing endpoints: discovery and keys, the authorization code
//! flow with PKCE and with a client secret, what the sign-in page refuses, and the device flow.

mod common;

use common::oauth::{
    Browser, authorize_url, claims, expect_oauth_error, filled, form_fields, pkce, query_param,
    sign_in, token,
};
use common::{Backend, TestServer};
use reqwest::StatusCode;

on_every_backend!(
    discovery_and_keys,
    code_flow_with_pkce,
    code_flow_of_a_confidential_client,
    authorize_refuses_what_it_must,
    sign_in_page_guards,
    device_code_flow,
);

/// Changes to an authorization request's parameters (`None`: left out), and what they cause.
type Case<'a> = (&'a [(&'a str, Option<&'a str>)], &'a str);

const REDIRECT: &str = "http://localhost:7777/callback";
const PASSWORD: &str = "correct horse battery";

async fn discovery_and_keys(backend: Backend) {
    let server = TestServer::start(backend).await;
    let tenant = server.tenant();
    assert_eq!(uuid::Uuid::parse_str(&tenant).unwrap().to_string(), tenant);
    let http = reqwest::Client::new();
    for t in ["common", "organizations", "consumers", tenant.as_str()] {
        let doc: serde_json::Value = http
            .get(format!(
                "{}/{t}/v2.0/.well-known/openid-configuration",
                server.url
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            doc["token_endpoint"],
            format!("{}/{t}/oauth2/v2.0/token", server.url)
        );
        for k in [
            "authorization_endpoint",
            "device_authorization_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ] {
            assert!(
                doc[k]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{}/{t}/", server.url)),
                "{k}: {doc}"
            );
        }
        let issuer = doc["issuer"].as_str().unwrap();
        match t == tenant {
            true => assert_eq!(issuer, format!("{}/{tenant}/v2.0", server.url)),
            false => assert_eq!(issuer, format!("{}/{{tenantid}}/v2.0", server.url)),
        }
    }
    let res = http
        .get(format!(
            "{}/contoso.example/v2.0/.well-known/openid-configuration",
            server.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_tenant");
    assert_eq!(body["error_codes"][0], 90002);
    // A method an endpoint does not take is an OAuth error too.
    let res = http
        .delete(format!("{}/common/oauth2/v2.0/token", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(res.headers()["allow"], "POST");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");

    // The JWKS holds the key the server's tokens name.
    let jwks: serde_json::Value = http
        .get(format!("{}/common/discovery/v2.0/keys", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    let cli_token = server.user_token("alice", &["Files.Read"]);
    let header = jsonwebtoken::decode_header(&cli_token).unwrap();
    assert_eq!(header.kid.as_deref(), keys[0]["kid"].as_str());
    // The key verifies the token, with the issuer and audience Entra's tokens have.
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        keys[0]["n"].as_str().unwrap(),
        keys[0]["e"].as_str().unwrap(),
    )
    .unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["https://graph.microsoft.com"]);
    v.set_issuer(&[format!("{}/{tenant}/v2.0", server.url)]);
    let c = jsonwebtoken::decode::<serde_json::Value>(&cli_token, &key, &v)
        .unwrap()
        .claims;
    assert_eq!(
        (c["tid"].as_str(), c["scp"].as_str(), c["idtyp"].as_str()),
        (Some(tenant.as_str()), Some("Files.Read"), Some("user"))
    );
}

/// Signs `user` in through a public client with PKCE; returns the token response.
async fn pkce_sign_in(server: &TestServer, client_id: &str, scope: &str) -> serde_json::Value {
    let (verifier, challenge) = pkce();
    let mut browser = Browser::new();
    let url = authorize_url(
        &server.url,
        &[
            ("client_id", client_id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", scope),
            ("state", "st8"),
            ("nonce", "n0nce"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let back = sign_in(&mut browser, &url, "alice", PASSWORD).await;
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some("st8"));
    let code = query_param(&back, "code").expect("a code");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", client_id),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    let tokens = token(&server.url, &form).await.expect(200).json();
    // The code is spent.
    expect_oauth_error(token(&server.url, &form).await, 400, "invalid_grant");
    tokens
}

async fn code_flow_with_pkce(backend: Backend) {
    let server = TestServer::start(backend).await;
    let alice = server.add_user_with_password("alice", PASSWORD);
    let app = server.add_app("notes", &["--public", "--redirect-uri", REDIRECT]);
    let tokens = pkce_sign_in(
        &server,
        &app.client_id,
        "https://graph.microsoft.com/Files.ReadWrite offline_access openid profile",
    )
    .await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["refresh_token"].is_string(), "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(c["oid"], alice.as_str());
    assert_eq!(c["azp"], app.client_id.as_str());
    assert_eq!(c["scp"], "Files.ReadWrite openid profile");
    assert_eq!(c["iss"], format!("{}/{}/v2.0", server.url, server.tenant()));
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(
        (
            id["aud"].as_str(),
            id["nonce"].as_str(),
            id["preferred_username"].as_str()
        ),
        (Some(app.client_id.as_str()), Some("n0nce"), Some("alice"))
    );
    // The token does drive work.
    let api = server.client(access);
    api.upload("signed-in.txt", b"hello".to_vec()).await;
    assert_eq!(
        api.download("/me/drive/root:/signed-in.txt:/content").await,
        b"hello"
    );

    // Without offline_access there is no refresh token; without openid no ID token.
    let plain = pkce_sign_in(&server, &app.client_id, "Files.Read").await;
    assert!(
        plain.get("refresh_token").is_none() && plain.get("id_token").is_none(),
        "{plain}"
    );
    assert_eq!(plain["scope"], "Files.Read");
    let read_only = server.client(plain["access_token"].as_str().unwrap());
    read_only
        .get("/me/drive/root:/signed-in.txt")
        .await
        .expect(200);
    read_only
        .put("/me/drive/root:/nope.txt:/content", b"x".to_vec())
        .await
        .expect_error(403, "accessDenied");
}

async fn code_flow_of_a_confidential_client(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.add_user_with_password("alice", PASSWORD);
    let app = server.add_app("portal", &["--redirect-uri", REDIRECT]);
    let secret = app
        .secret
        .clone()
        .expect("a confidential client has a secret");
    let mut browser = Browser::new();
    let url = authorize_url(
        &server.url,
        &[
            ("client_id", &app.client_id),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "Files.ReadWrite offline_access"),
        ],
    );
    let code = query_param(
        &sign_in(&mut browser, &url, "alice", PASSWORD).await,
        "code",
    )
    .unwrap();
    let form = |secret: &str| {
        vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), code.clone()),
            ("redirect_uri".into(), REDIRECT.into()),
            ("client_id".into(), app.client_id.clone()),
            ("client_secret".into(), secret.to_string()),
        ]
    };
    let http = reqwest::Client::new();
    let endpoint = format!("{}/{}/oauth2/v2.0/token", server.url, server.tenant());
    // A wrong secret is refused before the code is spent.
    let res = http
        .post(&endpoint)
        .form(&form("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(
        (body["error"].as_str(), body["error_codes"][0].as_i64()),
        (Some("invalid_client"), Some(7000215))
    );
    // No secret at all is refused too.
    let mut no_secret = form("");
    no_secret.retain(|(k, _)| k != "client_secret");
    assert_eq!(
        http.post(&endpoint)
            .form(&no_secret)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // HTTP Basic client authentication, as RFC 6749 writes it.
    let mut basic = form("");
    basic.retain(|(k, _)| k != "client_secret" && k != "client_id");
    let res = http
        .post(&endpoint)
        .basic_auth(&app.client_id, Some(&secret))
        .form(&basic)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let tokens: serde_json::Value = res.json().await.unwrap();
    server
        .client(tokens["access_token"].as_str().unwrap())
        .get("/me/drive")
        .await
        .expect(200);

    // A new secret replaces the old one.
    let new_secret = server.cli(&["app", "secret", "reset", "portal"]);
    let refresh = |s: &str| {
        vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            (
                "refresh_token".into(),
                tokens["refresh_token"].as_str().unwrap().to_string(),
            ),
            ("client_id".into(), app.client_id.clone()),
            ("client_secret".into(), s.to_string()),
        ]
    };
    assert_eq!(
        http.post(&endpoint)
            .form(&refresh(&secret))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        http.post(&endpoint)
            .form(&refresh(&new_secret))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn authorize_refuses_what_it_must(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.add_user_with_password("alice", PASSWORD);
    let public = server.add_app("cli", &["--public", "--redirect-uri", REDIRECT]);
    let (_, challenge) = pkce();
    let base = [
        ("client_id", public.client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "Files.Read"),
        ("state", "s1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let with = |changes: &[(&'static str, Option<&'static str>)]| {
        let mut params: Vec<(&str, &str)> = base.to_vec();
        for (k, v) in changes {
            params.retain(|(n, _)| n != k);
            if let Some(v) = v {
                params.push((k, v));
            }
        }
        authorize_url(&server.url, &params)
    };
    // Shown on a page, never sent to the redirect URI: an unknown client or redirect URI.
    let shown: &[Case] = &[
        (
            &[("client_id", Some("6a2d1e0e-0000-0000-0000-000000000000"))],
            "AADSTS700016",
        ),
        (
            &[("redirect_uri", Some("http://localhost:7777/callback/"))],
            "AADSTS50011",
        ),
        (
            &[("redirect_uri", Some("https://evil.example/callback"))],
            "AADSTS50011",
        ),
    ];
    let mut browser = Browser::new();
    for (changes, code) in shown {
        let res = browser.get(&with(changes)).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{changes:?}");
        assert!(res.header("location").is_none());
        assert!(res.text().contains(code), "{changes:?}: {}", res.text());
    }
    // Sent back to the client: PKCE missing for a public client, a wrong response type, an
    // unknown scope, a silent sign-in.
    let redirected: &[Case] = &[
        (
            &[("code_challenge", None), ("code_challenge_method", None)],
            "invalid_request",
        ),
        (
            &[("response_type", Some("token"))],
            "unsupported_response_type",
        ),
        (&[("scope", Some("Mail.Read"))], "invalid_scope"),
        (&[("prompt", Some("none"))], "login_required"),
    ];
    for (changes, error) in redirected {
        let res = browser.get(&with(changes)).await;
        assert_eq!(res.status, StatusCode::FOUND, "{changes:?}: {}", res.text());
        let location = res.header("location").unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        assert_eq!(
            query_param(&location, "error").as_deref(),
            Some(*error),
            "{location}"
        );
        assert_eq!(query_param(&location, "state").as_deref(), Some("s1"));
        assert!(query_param(&location, "error_description").is_some());
    }
    // A code is bound to its verifier and redirect URI.
    let url = with(&[]);
    let code = query_param(
        &sign_in(&mut browser, &url, "alice", PASSWORD).await,
        "code",
    )
    .unwrap();
    let (wrong_verifier, _) = pkce();
    let attempt = |verifier: String, redirect: &'static str| {
        let (server, client, code) = (server.url.clone(), public.client_id.clone(), code.clone());
        async move {
            token(
                &server,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", &client),
                    ("code", &code),
                    ("redirect_uri", redirect),
                    ("code_verifier", &verifier),
                ],
            )
            .await
        }
    };
    let body = expect_oauth_error(
        attempt(wrong_verifier, REDIRECT).await,
        400,
        "invalid_grant",
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("AADSTS"),
        "{body}"
    );
    // The failed attempt spent the code: it cannot be tried again with the right verifier.
    let body = expect_oauth_error(attempt(String::new(), REDIRECT).await, 400, "invalid_grant");
    assert_eq!(body["error_codes"][0], 70008, "{body}");
}

async fn sign_in_page_guards(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.add_user_with_password("alice", PASSWORD);
    server.add_user_with_password("bob", PASSWORD);
    let app = server.add_app("cli", &["--public", "--redirect-uri", REDIRECT]);
    let (_, challenge) = pkce();
    let url = authorize_url(
        &server.url,
        &[
            ("client_id", app.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "Files.Read"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    );
    let mut browser = Browser::new();
    let page = browser.get(&url).await;
    let html = page.text();
    assert!(
        html.contains("<label for=\"username\">Username</label>"),
        "{html}"
    );
    assert!(
        html.contains("<label for=\"password\">Password</label>"),
        "{html}"
    );
    let fields = form_fields(&html);
    async fn post(
        browser: &mut Browser,
        url: &str,
        fields: &[(String, String)],
        user: &str,
        pw: &str,
    ) -> common::Resp {
        browser
            .post_form(
                url,
                &filled(fields, &[("username", user), ("password", pw)]),
            )
            .await
    }
    // A wrong password and an unknown user read the same.
    let wrong = post(&mut browser, &url, &fields, "alice", "not the password").await;
    let unknown = post(&mut browser, &url, &fields, "mallory", "not the password").await;
    assert_eq!(
        (wrong.status, unknown.status),
        (StatusCode::OK, StatusCode::OK)
    );
    let message = "The username or password is incorrect.";
    assert!(wrong.text().contains(message) && unknown.text().contains(message));
    assert!(
        !unknown.text().contains("mallory\" does not"),
        "no user enumeration"
    );
    // A form posted without the page's CSRF cookie is refused.
    let mut other = Browser::new();
    let forged = other
        .post_form(
            &url,
            &filled(&fields, &[("username", "bob"), ("password", PASSWORD)]),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.header("location").is_none());
    // Failed attempts are limited per user name: the sixth is refused even with the password.
    for _ in 0..4 {
        post(&mut browser, &url, &fields, "alice", "guess").await;
    }
    let blocked = post(&mut browser, &url, &fields, "alice", PASSWORD).await;
    assert_eq!(
        blocked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        blocked.text()
    );
    assert!(blocked.text().contains("Too many failed sign-in attempts"));
    // Others sign in still.
    assert_eq!(
        post(&mut browser, &url, &fields, "bob", PASSWORD)
            .await
            .status,
        StatusCode::FOUND
    );
}

async fn device_code_flow(backend: Backend) {
    let server = TestServer::start_with(backend, &["--device-code-interval", "1"]).await;
    server.add_user_with_password("alice", PASSWORD);
    let app = server.add_app("sensor", &["--public"]);
    let http = reqwest::Client::new();
    let start: serde_json::Value = http
        .post(format!("{}/common/oauth2/v2.0/devicecode", server.url))
        .form(&[
            ("client_id", app.client_id.as_str()),
            ("scope", "Files.ReadWrite offline_access"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_code = start["user_code"].as_str().unwrap();
    let device_code = start["device_code"].as_str().unwrap();
    assert_eq!(start["interval"], 1);
    assert_eq!(
        start["verification_uri"],
        format!("{}/devicelogin", server.url)
    );
    assert!(start["message"].as_str().unwrap().contains(user_code));
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", app.client_id.as_str()),
        ("device_code", device_code),
    ];
    let poll = || token(&server.url, &form);
    expect_oauth_error(poll().await, 400, "authorization_pending");
    // Polling faster than the interval is told to slow down.
    expect_oauth_error(poll().await, 400, "slow_down");

    // The user opens the page, enters the code (in any case, with a dash) and signs in.
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/devicelogin", server.url)).await;
    let fields = form_fields(&page.text());
    let typed = format!("{}-{}", &user_code[..4], &user_code[4..]).to_lowercase();
    let wrong_code = browser
        .post_form(
            &format!("{}/devicelogin", server.url),
            &filled(
                &fields,
                &[
                    ("user_code", "BBBBBBBBB"),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            ),
        )
        .await;
    assert!(
        wrong_code.text().contains("That code is wrong"),
        "{}",
        wrong_code.text()
    );
    let done = browser
        .post_form(
            &format!("{}/devicelogin", server.url),
            &filled(
                &fields,
                &[
                    ("user_code", &typed),
                    ("username", "alice"),
                    ("password", PASSWORD),
                ],
            ),
        )
        .await;
    assert!(
        done.text().contains("You have signed in to sensor"),
        "{}",
        done.text()
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let tokens = poll().await.expect(200).json();
    assert!(tokens["refresh_token"].is_string());
    server
        .client(tokens["access_token"].as_str().unwrap())
        .get("/me/drive")
        .await
        .expect(200);
    // The device code is spent.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    expect_oauth_error(poll().await, 400, "expired_token");
}
