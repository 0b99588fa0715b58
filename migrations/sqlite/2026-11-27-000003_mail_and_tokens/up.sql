-- Mail waiting to be delivered. Rows are written in the same transaction as the change that
-- caused them and deleted once the SMTP server accepted the message.
CREATE TABLE mail_outbox (
	id INTEGER NOT NULL PRIMARY KEY,
	recipient VARCHAR(320) NOT NULL,
	subject VARCHAR(255) NOT NULL,
	text_body TEXT NOT NULL,
	html_body TEXT NOT NULL,
	created_at DATETIME NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at DATETIME NOT NULL,
	locked_until DATETIME,
	last_error TEXT
);
CREATE INDEX ix_mail_outbox_next_attempt_at ON mail_outbox (next_attempt_at);

-- Single-use tokens (email confirmation, password reset). Only a keyed digest is stored.
CREATE TABLE user_token (
	token_hash VARCHAR(128) NOT NULL PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	purpose VARCHAR(32) NOT NULL,
	-- Digest of what the token is bound to (the email to confirm, the password to replace).
	binding VARCHAR(128) NOT NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	used_at DATETIME
);
CREATE INDEX ix_user_token_user_id ON user_token (user_id);
