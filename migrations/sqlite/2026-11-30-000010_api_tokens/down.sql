DROP TABLE auth_token;
DROP TABLE fs_refresh;
