-- Forgetting a throttle action's old rows (`DELETE ... WHERE action = ? AND created_at <= ?`,
-- at every counted login) found them through (action, ip, created_at): every row of the
-- action was read, a million of them in a big database. This index reaches just the old
-- ones. It replaces the index on created_at alone, which no query uses (housekeeping walks
-- the table by id).
CREATE INDEX ix_auth_attempt_action_created_at ON auth_attempt (action, created_at);
DROP INDEX ix_auth_attempt_created_at;

-- Start-up refuses to run with two-factor off while some user has a second factor: that
-- count read every row of "user" (a tenth of a second per million accounts). With the index
-- it reads only the users that have one. (SQLite: created with the optional columns, at
-- start-up; see src/db/mod.rs.)
CREATE INDEX IF NOT EXISTS ix_user_tf_primary_method ON "user" (tf_primary_method);
