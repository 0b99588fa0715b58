ALTER TABLE login_session DROP COLUMN authenticated_at;
DROP TABLE auth_attempt;
