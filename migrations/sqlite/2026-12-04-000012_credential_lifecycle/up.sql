-- The credential lifecycle (SECURITY.md, "What ends what"). An API token carries the time of
-- the last interactive proof of the login it was issued with (NULL: never fresh, as every
-- token a refresh token bought); a refresh family remembers the login it was started at, so
-- that signing that login out ends the family and every token it issued.
ALTER TABLE auth_token ADD COLUMN authenticated_at DATETIME;
CREATE TABLE refresh_login (
	refresh_family VARCHAR(64) NOT NULL PRIMARY KEY
		REFERENCES fs_refresh (refresh_family) ON DELETE CASCADE,
	login_id VARCHAR(64) NOT NULL
);
CREATE INDEX ix_refresh_login_login_id ON refresh_login (login_id);
