-- The three tables of the Flask-Security-Too tutorial, exactly as SQLAlchemy's create_all
-- makes them. IF NOT EXISTS lets Latchkey adopt a database the Flask app already created.
CREATE TABLE IF NOT EXISTS role (
	id INTEGER NOT NULL,
	name VARCHAR(80),
	description VARCHAR(255),
	PRIMARY KEY (id),
	UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS "user" (
	id INTEGER NOT NULL,
	email VARCHAR(255),
	username VARCHAR(255),
	password VARCHAR(255) NOT NULL,
	last_login_at DATETIME,
	current_login_at DATETIME,
	last_login_ip VARCHAR(100),
	current_login_ip VARCHAR(100),
	login_count INTEGER,
	active BOOLEAN,
	premium BOOLEAN,
	fs_uniquifier VARCHAR(255) NOT NULL,
	confirmed_at DATETIME,
	PRIMARY KEY (id),
	UNIQUE (email),
	UNIQUE (username),
	UNIQUE (fs_uniquifier)
);
CREATE TABLE IF NOT EXISTS roles_users (
	id INTEGER NOT NULL,
	user_id INTEGER,
	role_id INTEGER,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES "user" (id),
	FOREIGN KEY(role_id) REFERENCES role (id)
);
