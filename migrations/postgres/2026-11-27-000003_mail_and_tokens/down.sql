DROP TABLE user_token;
DROP TABLE mail_outbox;
