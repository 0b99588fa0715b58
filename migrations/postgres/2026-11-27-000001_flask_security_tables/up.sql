-- The three tables of the Flask-Security-Too tutorial, as SQLAlchemy's create_all makes
-- them on PostgreSQL. IF NOT EXISTS lets Latchkey adopt an existing Flask database.
CREATE TABLE IF NOT EXISTS role (
	id SERIAL NOT NULL,
	name VARCHAR(80),
	description VARCHAR(255),
	PRIMARY KEY (id),
	UNIQUE (name)
);
CREATE TABLE IF NOT EXISTS "user" (
	id SERIAL NOT NULL,
	email VARCHAR(255),
	username VARCHAR(255),
	password VARCHAR(255) NOT NULL,
	last_login_at TIMESTAMP WITHOUT TIME ZONE,
	current_login_at TIMESTAMP WITHOUT TIME ZONE,
	last_login_ip VARCHAR(100),
	current_login_ip VARCHAR(100),
	login_count INTEGER,
	active BOOLEAN,
	premium BOOLEAN,
	fs_uniquifier VARCHAR(255) NOT NULL,
	confirmed_at TIMESTAMP WITHOUT TIME ZONE,
	PRIMARY KEY (id),
	UNIQUE (email),
	UNIQUE (username),
	UNIQUE (fs_uniquifier)
);
CREATE TABLE IF NOT EXISTS roles_users (
	id SERIAL NOT NULL,
	user_id INTEGER,
	role_id INTEGER,
	PRIMARY KEY (id),
	FOREIGN KEY(user_id) REFERENCES "user" (id),
	FOREIGN KEY(role_id) REFERENCES role (id)
);
