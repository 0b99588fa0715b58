CREATE INDEX ix_auth_attempt_created_at ON auth_attempt (created_at);
DROP INDEX ix_auth_attempt_action_created_at;
