DROP TABLE oidc_signing_key;
DROP TABLE oidc_client;
