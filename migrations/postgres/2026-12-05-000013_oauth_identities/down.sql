DROP TABLE oauth_identity;
