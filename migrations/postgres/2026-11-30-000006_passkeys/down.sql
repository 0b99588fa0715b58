-- Only Latchkey's own table: "webauthn" and the user handle may hold a Flask app's passkeys.
DROP TABLE webauthn_ceremony;
