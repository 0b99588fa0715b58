-- Flask-Security's two-factor columns (SECURITY_TWO_FACTOR, SECURITY_MULTI_FACTOR_RECOVERY_CODES).
-- IF NOT EXISTS: a database adopted from a Flask-Security app with two-factor already has them.
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS tf_primary_method VARCHAR(64);
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS tf_totp_secret VARCHAR(255);
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS tf_phone_number VARCHAR(128);
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS mf_recovery_codes TEXT;

-- Latchkey's own: one-time codes already used (an authenticator code's time step), so that
-- none is accepted twice. The primary key makes a second use fail, on every instance.
CREATE TABLE otp_used (
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	purpose VARCHAR(16) NOT NULL,
	step BIGINT NOT NULL,
	used_at TIMESTAMP NOT NULL,
	PRIMARY KEY (user_id, purpose, step)
);
CREATE INDEX ix_otp_used_used_at ON otp_used (used_at);
