ALTER TABLE user_token DROP COLUMN detail;
