-- Security events (the hooks' built-in subscriber, src/auth/events.rs): one row per event
-- (login, failed login, password change, ...), shown on the account page and /admin, and the
-- login history that decides whether a sign-in comes from a new device. Never a secret:
-- `detail` is a short description (a login method, a passkey's name), `user_agent` is cut
-- to 255 characters. `user_id` is NULL for a failed login of an unknown identity. No
-- foreign key: the audit trail outlives nothing it describes by design, and rows older than
-- SECURITY_EVENT_RETENTION are pruned.
CREATE TABLE security_event (
	id INTEGER NOT NULL PRIMARY KEY,
	user_id INTEGER,
	kind VARCHAR(32) NOT NULL,
	detail VARCHAR(255),
	ip VARCHAR(100),
	user_agent VARCHAR(255),
	created_at DATETIME NOT NULL
);
CREATE INDEX ix_security_event_user_id_created_at ON security_event (user_id, created_at);
CREATE INDEX ix_security_event_created_at ON security_event (created_at);
