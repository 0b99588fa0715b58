-- Change of email address (SECURITY_CHANGE_EMAIL): a token may carry one value of its own,
-- stored with it: the new address a confirmation link switches to, or the old address a
-- "this wasn't me" link restores. Latchkey's own table: a plain ADD COLUMN on both backends.
ALTER TABLE user_token ADD COLUMN detail TEXT;
