DROP TABLE oidc_consent;
DROP TABLE oidc_token;
DROP TABLE oidc_grant;
ALTER TABLE login_session DROP COLUMN amr;
