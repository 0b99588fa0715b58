-- Flask-Security's unified sign-in columns (SECURITY_UNIFIED_SIGNIN): the encrypted TOTP
-- secret of each set-up method ({"email": "<passlib record>", ...}) and the phone number for
-- text-message codes (an identity, so unique). IF NOT EXISTS: a database adopted from a
-- Flask-Security app with unified sign-in already has them. (SQLite gets them at start-up:
-- src/db/mod.rs, `add_missing_columns`.)
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS us_totp_secrets TEXT;
ALTER TABLE "user" ADD COLUMN IF NOT EXISTS us_phone_number VARCHAR(128) UNIQUE;
