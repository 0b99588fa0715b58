DROP TABLE refresh_login;
ALTER TABLE auth_token DROP COLUMN authenticated_at;
