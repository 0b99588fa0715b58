DROP TABLE otp_used;
