-- Social login (SECURITY_OAUTH_ENABLE): the identities at OpenID Connect providers that sign in
-- to an account, each by its provider's name and its subject (the ID token's "sub", stable and
-- never reassigned), never by an email address. Latchkey's own: Flask-Security looks its users
-- up by the email the provider sends.
CREATE TABLE oauth_identity (
	id SERIAL NOT NULL PRIMARY KEY,
	provider VARCHAR(32) NOT NULL,
	subject VARCHAR(255) NOT NULL,
	user_id INTEGER NOT NULL REFERENCES "user" (id) ON DELETE CASCADE,
	email VARCHAR(255),
	created_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
	last_used_at TIMESTAMP WITHOUT TIME ZONE
);
CREATE UNIQUE INDEX ix_oauth_identity_provider_subject ON oauth_identity (provider, subject);
CREATE INDEX ix_oauth_identity_user_id ON oauth_identity (user_id);
