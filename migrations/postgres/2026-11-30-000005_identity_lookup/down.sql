DROP INDEX IF EXISTS ix_user_username_lower;
DROP INDEX IF EXISTS ix_user_email_lower;
