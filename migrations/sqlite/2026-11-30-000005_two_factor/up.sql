-- Flask-Security's two-factor columns on "user" (tf_primary_method, tf_totp_secret,
-- tf_phone_number, mf_recovery_codes) are added by Latchkey at start-up, only where
-- missing (src/db/mod.rs, `add_missing_columns`): SQLite has no ADD COLUMN IF NOT EXISTS,
-- and a database adopted from a Flask-Security app with two-factor already has them.

-- Latchkey's own: one-time codes already used (an authenticator code's time step), so that
-- none is accepted twice. The primary key makes a second use fail, on every instance.
CREATE TABLE otp_used (
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	purpose VARCHAR(16) NOT NULL,
	step BIGINT NOT NULL,
	used_at DATETIME NOT NULL,
	PRIMARY KEY (user_id, purpose, step)
);
CREATE INDEX ix_otp_used_used_at ON otp_used (used_at);
