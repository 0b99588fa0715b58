-- Flask-Security's passkeys (SECURITY_WEBAUTHN): the "webauthn" table, as its fsqla_v3 model
-- makes it. IF NOT EXISTS: a database adopted from a Flask-Security app with passkeys already
-- has it (and keeps its rows). The user handle column on "user" (fs_webauthn_user_handle,
-- unique) is added by Latchkey at start-up, only where missing (src/db/mod.rs,
-- `add_missing_columns`): SQLite has no ADD COLUMN IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS webauthn (
	id INTEGER NOT NULL,
	credential_id BLOB NOT NULL,
	public_key BLOB NOT NULL,
	sign_count INTEGER,
	transports TEXT,
	backup_state BOOLEAN NOT NULL,
	device_type VARCHAR(64) NOT NULL,
	extensions VARCHAR(255),
	create_datetime DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL,
	lastuse_datetime DATETIME NOT NULL,
	name VARCHAR(64) NOT NULL,
	usage VARCHAR(64) NOT NULL,
	user_id INTEGER NOT NULL,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES "user" (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX IF NOT EXISTS ix_webauthn_credential_id ON webauthn (credential_id);
CREATE INDEX IF NOT EXISTS ix_webauthn_user_id ON webauthn (user_id);

-- Latchkey's own: a passkey ceremony in progress (registration, sign-in, re-authentication,
-- sign-up). The browser holds a random token whose digest is the key, and its session holds
-- the binding: a ceremony finishes once, in the session that began it, before it expires.
CREATE TABLE webauthn_ceremony (
	token_hash VARCHAR(64) NOT NULL PRIMARY KEY,
	binding VARCHAR(64) NOT NULL,
	purpose VARCHAR(16) NOT NULL,
	user_id INTEGER REFERENCES "user" (id) ON DELETE CASCADE,
	state TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL
);
CREATE INDEX ix_webauthn_ceremony_expires_at ON webauthn_ceremony (expires_at);
