DROP TABLE oidc_consent;
DROP TABLE oidc_token;
DROP TABLE oidc_grant;
ALTER TABLE oidc_client DROP COLUMN id_token_alg;
ALTER TABLE login_session DROP COLUMN amr;
