-- "Sign in with Latchkey": what the OpenID Connect provider hands out, and what a person
-- agreed to. Latchkey's own; Flask-Security has no provider side.
--
-- amr on a login: how it was proved (RFC 8176 values, space-separated: pwd, otp, sms,
-- hwk, mfa, ...), copied into the ID tokens issued from it. NULL for logins made before.
ALTER TABLE login_session ADD COLUMN amr VARCHAR(64);

-- The algorithm a client's ID tokens are signed with (its id_token_signed_response_alg):
-- RS256, which every client understands, unless it was registered for EdDSA.
ALTER TABLE oidc_client ADD COLUMN id_token_alg VARCHAR(16) NOT NULL DEFAULT 'RS256';

-- One row per authorization code and the tokens it started (its family). Only digests of
-- the code and tokens are kept. The code is single-use (code_used_at, set by the one
-- UPDATE that reserves it) and lives 60 s at most; a replayed code revokes the family.
CREATE TABLE oidc_grant (
	id INTEGER NOT NULL PRIMARY KEY,
	family VARCHAR(64) NOT NULL,
	code_digest VARCHAR(64) NOT NULL,
	client_id VARCHAR(64) NOT NULL,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	redirect_uri TEXT NOT NULL,
	scope VARCHAR(255) NOT NULL,
	nonce VARCHAR(255),
	code_challenge VARCHAR(128),
	auth_time DATETIME NOT NULL,
	amr VARCHAR(64) NOT NULL,
	created_at DATETIME NOT NULL,
	code_expires_at DATETIME NOT NULL,
	code_used_at DATETIME,
	revoked_at DATETIME
);
CREATE UNIQUE INDEX ix_oidc_grant_family ON oidc_grant (family);
CREATE UNIQUE INDEX ix_oidc_grant_code_digest ON oidc_grant (code_digest);
CREATE INDEX ix_oidc_grant_user_client ON oidc_grant (user_id, client_id);

-- Access and refresh tokens (kind 'access' or 'refresh'), by digest, in their grant's
-- family. A refresh token is used once (used_at, set by the UPDATE that reserves it); a
-- used one presented again revokes the family.
CREATE TABLE oidc_token (
	id INTEGER NOT NULL PRIMARY KEY,
	token_digest VARCHAR(64) NOT NULL,
	family VARCHAR(64) NOT NULL REFERENCES oidc_grant (family) ON DELETE CASCADE,
	kind VARCHAR(16) NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	used_at DATETIME
);
CREATE UNIQUE INDEX ix_oidc_token_digest ON oidc_token (token_digest);
CREATE INDEX ix_oidc_token_family ON oidc_token (family);

-- What a person agreed to share with an app: asked once per client and scope set.
CREATE TABLE oidc_consent (
	id INTEGER NOT NULL PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	client_id VARCHAR(64) NOT NULL,
	scope VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX ix_oidc_consent_user_client ON oidc_consent (user_id, client_id);
