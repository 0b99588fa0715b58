DROP TABLE otp_used;
ALTER TABLE "user" DROP COLUMN IF EXISTS mf_recovery_codes;
ALTER TABLE "user" DROP COLUMN IF EXISTS tf_phone_number;
ALTER TABLE "user" DROP COLUMN IF EXISTS tf_totp_secret;
ALTER TABLE "user" DROP COLUMN IF EXISTS tf_primary_method;
