-- API tokens (Flask-Security's auth tokens, `?include_auth_token`, the `Authentication-Token`
-- header). Flask-Security's are stateless and outlive logout; Latchkey keeps a row per token
-- (its keyed digest, never the token) so that logout, a password change, deactivation and
-- `users reset-access` revoke it, and the sessions page can list it.
CREATE TABLE auth_token (
	token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	fs_uniquifier VARCHAR(255) NOT NULL,
	-- The login it was issued with (logging out of it revokes the token), or the refresh
	-- family that issued it (a replayed refresh token revokes the family's tokens).
	login_id VARCHAR(64),
	refresh_family VARCHAR(64),
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	last_used_at DATETIME NOT NULL,
	ip VARCHAR(100),
	user_agent VARCHAR(255)
);
CREATE INDEX ix_auth_token_user_id ON auth_token (user_id);
CREATE INDEX ix_auth_token_login_id ON auth_token (login_id);
CREATE INDEX ix_auth_token_refresh_family ON auth_token (refresh_family);

-- Flask-Security 5.9's refresh-token trackers (SECURITY_REFRESH_TOKEN), as its fsqla_v4
-- model makes them; IF NOT EXISTS adopts a database that has the table. A refresh token
-- names its family and generation; each use bumps the generation, and presenting an older
-- one revokes the family.
CREATE TABLE IF NOT EXISTS fs_refresh (
	id INTEGER NOT NULL,
	refresh_family VARCHAR(64) NOT NULL,
	gen INTEGER,
	expires_at DATETIME NOT NULL,
	revoked_at DATETIME,
	last_used_at DATETIME NOT NULL,
	create_datetime DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
	name VARCHAR(64) NOT NULL,
	user_id INTEGER NOT NULL,
	PRIMARY KEY (id),
	UNIQUE (refresh_family),
	FOREIGN KEY(user_id) REFERENCES "user" (id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ix_fs_refresh_user_id ON fs_refresh (user_id);
