-- Sign-in: passwords, registered applications (OAuth clients), authorization codes, refresh
-- tokens, device codes, the keys access tokens are signed with, and the identities of other
-- identity providers' users.

-- An Argon2id hash (PHC string) of the user's password; NULL: the user cannot sign in with one.
ALTER TABLE principals ADD COLUMN password_hash TEXT;

-- An application's registration. Its principal (kind 'app') has the client id as its id.
CREATE TABLE oauth_clients (
    client_id     TEXT PRIMARY KEY REFERENCES principals (id),
    -- 1: a public client (no secret; PKCE required), 0: a confidential one.
    is_public     BIGINT NOT NULL,
    -- SHA-256 of the client secret (hex), for confidential clients.
    secret_hash   TEXT,
    -- Redirect URIs and application roles, one per line.
    redirect_uris TEXT NOT NULL,
    roles         TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

-- Authorization codes, single-use and short-lived, kept by the SHA-256 of the code.
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    principal_id   TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    code_challenge TEXT,
    -- 'S256' or 'plain', with a challenge.
    challenge_method TEXT,
    nonce          TEXT,
    expires_at     BIGINT NOT NULL
);

-- Refresh tokens, kept by SHA-256. Each use spends the token and issues the next of its family;
-- a spent token presented again revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    family_id    TEXT NOT NULL,
    client_id    TEXT NOT NULL,
    principal_id TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    spent_at     BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_principal ON refresh_tokens (principal_id);

-- Device-code sign-ins in progress: the device polls with its code while the user enters the
-- user code on the verification page.
CREATE TABLE device_codes (
    device_hash  TEXT PRIMARY KEY,
    user_code    TEXT NOT NULL UNIQUE,
    client_id    TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    -- Who approved the sign-in, once someone has.
    principal_id TEXT,
    last_poll_at BIGINT
);

-- The RSA keys access and ID tokens are signed with. The newest one not retiring signs; a
-- retiring key stays published (and accepted) until retire_at.
CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    -- PKCS#1 DER of the private key, base64.
    private_key TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retire_at   BIGINT
);

-- Users of trusted identity providers, by issuer and subject (oid or sub).
CREATE TABLE external_identities (
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    principal_id TEXT NOT NULL REFERENCES principals (id),
    PRIMARY KEY (issuer, subject)
);
