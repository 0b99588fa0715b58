-- Throttling (ASVS 2.2.1): one row per counted event, shared by every instance. `action` is
-- login_failed, login_ok (an address the account logged in from: exempt from the account
-- ceiling), register, reset or confirm. `subject` is a keyed digest (account or target
-- address, never what was typed); `ip` the client address. Rows older than their window
-- are pruned as new ones are written.
CREATE TABLE auth_attempt (
	id BIGSERIAL PRIMARY KEY,
	action VARCHAR(16) NOT NULL,
	subject VARCHAR(128) NOT NULL,
	ip VARCHAR(100) NOT NULL,
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL
);
CREATE INDEX ix_auth_attempt_subject ON auth_attempt (action, subject, created_at);
CREATE INDEX ix_auth_attempt_ip ON auth_attempt (action, ip, created_at);
CREATE INDEX ix_auth_attempt_created_at ON auth_attempt (created_at);

-- When the login last proved the password (login or /verify): freshness (Flask-Security's
-- fs_paa). NULL for logins made before this column: created_at stands in.
ALTER TABLE login_session ADD COLUMN authenticated_at TIMESTAMP WITHOUT TIME ZONE;
