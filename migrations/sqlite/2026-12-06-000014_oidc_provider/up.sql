-- Latchkey as an OpenID Connect provider ("Sign in with Latchkey"): the apps registered to
-- sign their users in through it, and the keys its ID tokens are signed with. Latchkey's
-- own; Flask-Security has no provider side.
--
-- A client's secret is never stored: only its SHA-256 digest (the secret is 32 random
-- bytes, shown once). A public client (a single-page or native app, PKCE only) has none.
-- Redirect URIs are kept exactly as registered (JSON lists) and matched exactly.
CREATE TABLE oidc_client (
	id INTEGER NOT NULL PRIMARY KEY,
	client_id VARCHAR(64) NOT NULL,
	name VARCHAR(255) NOT NULL,
	secret_digest VARCHAR(64),
	redirect_uris TEXT NOT NULL,
	post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
	scopes VARCHAR(255) NOT NULL DEFAULT 'openid email profile',
	is_public BOOLEAN NOT NULL DEFAULT FALSE,
	created_at DATETIME NOT NULL,
	secret_rotated_at DATETIME
);
CREATE UNIQUE INDEX ix_oidc_client_client_id ON oidc_client (client_id);

-- The ID-token signing keys: one current key per algorithm (retired_at NULL), and retired
-- ones that stay in the JWKS until the tokens they signed have expired. The private key is
-- sealed (AES-256-GCM under a key derived from SECRET_KEY); the public half is a JWK.
CREATE TABLE oidc_signing_key (
	id INTEGER NOT NULL PRIMARY KEY,
	kid VARCHAR(64) NOT NULL,
	alg VARCHAR(16) NOT NULL,
	private_key_sealed TEXT NOT NULL,
	public_jwk TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	retired_at DATETIME
);
CREATE UNIQUE INDEX ix_oidc_signing_key_kid ON oidc_signing_key (kid);
CREATE INDEX ix_oidc_signing_key_alg ON oidc_signing_key (alg);
-- At most one current key per algorithm: two rotations at once cannot both leave theirs
-- current (the second fails instead).
CREATE UNIQUE INDEX ix_oidc_signing_key_current ON oidc_signing_key (alg) WHERE retired_at IS NULL;
