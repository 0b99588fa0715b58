-- Emails and usernames are unique regardless of case (Flask-Security looks them up
-- case-insensitively); the index makes racing registrations fail cleanly.
CREATE UNIQUE INDEX IF NOT EXISTS ix_user_email_lower ON "user" (lower(email));
CREATE UNIQUE INDEX IF NOT EXISTS ix_user_username_lower ON "user" (lower(username));

-- One row per login (a browser session and its optional remember-me cookie). Deleting the
-- row revokes both cookies on every instance.
CREATE TABLE login_session (
	id VARCHAR(64) NOT NULL PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	fs_uniquifier VARCHAR(255) NOT NULL,
	created_at DATETIME NOT NULL,
	last_seen_at DATETIME NOT NULL,
	ip VARCHAR(100),
	user_agent VARCHAR(255),
	remember_hash VARCHAR(128),
	remember_expires_at DATETIME
);
CREATE INDEX ix_login_session_user_id ON login_session (user_id);
