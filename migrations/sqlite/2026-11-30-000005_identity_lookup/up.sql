-- Latchkey stores emails and usernames case-folded and finds them by equality (the UNIQUE
-- indexes). Accounts adopted from a database that stored them as typed are found through
-- lower(): these indexes keep that lookup from scanning the table.
CREATE INDEX IF NOT EXISTS ix_user_email_lower ON "user" (lower(email));
CREATE INDEX IF NOT EXISTS ix_user_username_lower ON "user" (lower(username));
