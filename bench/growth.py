"""The growth scenario's database side (see bench/README.md, "Growth"): fills a Latchkey
database with a million users, a million logins (most of them expired), a million throttle
rows and 100 000 link tokens with SQL, in a few big transactions, and measures how much room
the database takes. bench.py drives the servers and the load around it.

The rows look like the ones Latchkey writes: timestamps in its text format (SQLite) or
`timestamp` (PostgreSQL), keyed digests as 64 hex characters, one shared bcrypt hash for the
filler accounts (nobody logs in with them). Client addresses are 10.x.y.z, never 127.0.0.1,
so that the benchmark's own logins are not throttled by the filler's failures.
"""
import os
import sqlite3
import subprocess
import tempfile

USERS = 1_000_000
LOGINS = 1_000_000
# One login in 20 is live (seen minutes ago, or remembered until next month).
ATTEMPTS = 1_000_000
# One throttle row in 10 is recent (inside its action's window).
TOKENS = 100_000              # a third used, a third expired, a third still valid

# Throttle actions, as src/auth/throttle.rs names them. login_ok is kept 30 days, the others
# an hour (the default windows).
ACTIONS = ("login_failed", "login_ok", "register", "reset", "confirm")

# --- SQLite --------------------------------------------------------------------------------

# Latchkey's text timestamp: 'YYYY-MM-DD HH:MM:SS.ffffff' (naive UTC).
def _ts(modifier):
    return f"(strftime('%Y-%m-%d %H:%M:%S', 'now', {modifier}) || '.000001')"


def _seq(n):
    return f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})"


def fill_sqlite(path, scale=1.0):
    """Adds the rows (times `scale`) to the migrated SQLite file at `path` (the server must
    not be running). Returns {table: seconds}."""
    import time
    users, logins, attempts, tokens = (int(n * scale) for n in (USERS, LOGINS, ATTEMPTS, TOKENS))
    con = sqlite3.connect(path, isolation_level=None, timeout=60)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA cache_size = -262144")  # 256 MiB for the filler only
    base = con.execute('SELECT coalesce(max(id), 0) FROM "user"').fetchone()[0]
    hashed = con.execute('SELECT password FROM "user" ORDER BY id LIMIT 1').fetchone()[0]
    pick_user = f"({base} + 1 + abs(random()) % {users})"
    took = {}

    def run(table, sql, *args):
        started = time.monotonic()
        con.execute("BEGIN")
        con.execute(sql, args)
        con.execute("COMMIT")
        took[table] = time.monotonic() - started

    run("user", f"""
        INSERT INTO "user" (id, email, username, password, active, premium, login_count,
                            fs_uniquifier, confirmed_at, last_login_at, current_login_at,
                            last_login_ip, current_login_ip)
        {_seq(users)}
        SELECT {base} + i, 'filler-' || i || '@example.com', NULL, ?, 1, 0, 1 + i % 7,
               lower(hex(randomblob(16))), {_ts("'-' || (i % 900) || ' days'")},
               {_ts("'-' || (i % 90) || ' days'")}, {_ts("'-' || (i % 30) || ' days'")},
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.7',
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.7'
        FROM n""", hashed)
    # One in 20 live: seen i % 25 minutes ago (or remembered for another month); the others
    # idle for hours, some of them remembered until yesterday.
    run("login_session", f"""
        INSERT INTO login_session (id, user_id, fs_uniquifier, created_at, last_seen_at, ip,
                                   user_agent, remember_hash, remember_expires_at,
                                   authenticated_at)
        {_seq(logins)}
        SELECT lower(hex(randomblob(18))), {pick_user}, lower(hex(randomblob(16))),
               CASE WHEN i % 20 = 0 THEN {_ts("'-' || (30 + i % 300) || ' minutes'")}
                    ELSE {_ts("'-' || (2 + i % 47) || ' hours'")} END,
               CASE WHEN i % 20 = 0 THEN {_ts("'-' || (i % 25) || ' minutes'")}
                    ELSE {_ts("'-' || (1 + i % 47) || ' hours'")} END,
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.9',
               'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
               CASE WHEN i % 40 = 0 OR i % 7 = 1 THEN lower(hex(randomblob(32))) END,
               CASE WHEN i % 40 = 0 THEN {_ts("'+30 days'")}
                    WHEN i % 7 = 1 THEN {_ts("'-1 days'")} END,
               CASE WHEN i % 20 = 0 THEN {_ts("'-' || (30 + i % 300) || ' minutes'")}
                    ELSE {_ts("'-' || (2 + i % 47) || ' hours'")} END
        FROM n""")
    # Action by (i / 10) % 5; one in 10 recent (minutes ago), the others past their window.
    actions = " ".join(f"WHEN {k} THEN '{a}'" for k, a in enumerate(ACTIONS))
    run("auth_attempt", f"""
        INSERT INTO auth_attempt (action, subject, ip, created_at)
        {_seq(attempts)}
        SELECT CASE (i / 10) % 5 {actions} END, lower(hex(randomblob(32))),
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.' || (i % 11),
               CASE WHEN i % 10 = 0 THEN {_ts("'-' || (i % 50) || ' minutes'")}
                    WHEN (i / 10) % 5 = 1 THEN {_ts("'-' || (31 + i % 60) || ' days'")}
                    ELSE {_ts("'-' || (2 + i % 70) || ' hours'")} END
        FROM n""")
    run("user_token", f"""
        INSERT INTO user_token (token_hash, user_id, purpose, binding, created_at, expires_at,
                                used_at)
        {_seq(tokens)}
        SELECT lower(hex(randomblob(32))), {pick_user},
               CASE i % 2 WHEN 0 THEN 'confirm' ELSE 'reset' END, lower(hex(randomblob(32))),
               {_ts("'-' || (i % 120) || ' minutes'")},
               CASE i % 3 WHEN 1 THEN {_ts("'-1 hours'")} ELSE {_ts("'+1 days'")} END,
               CASE i % 3 WHEN 0 THEN {_ts("'-5 minutes'")} END
        FROM n""")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return took


def sqlite_size(path):
    """The file (and its WAL) on disk, and the pages SQLite keeps free inside it."""
    con = sqlite3.connect(path, timeout=60)
    page = con.execute("PRAGMA page_size").fetchone()[0]
    pages = con.execute("PRAGMA page_count").fetchone()[0]
    free = con.execute("PRAGMA freelist_count").fetchone()[0]
    vacuum = con.execute("PRAGMA auto_vacuum").fetchone()[0]
    con.close()
    wal = path + "-wal"
    return {
        "file": os.path.getsize(path),
        "wal": os.path.getsize(wal) if os.path.exists(wal) else 0,
        "free": free * page,
        "used": (pages - free) * page,
        "auto_vacuum": {0: "none", 1: "full", 2: "incremental"}.get(vacuum, str(vacuum)),
    }


def sqlite_live_size(path):
    """What the live rows need: the size of a compact copy (VACUUM INTO)."""
    with tempfile.TemporaryDirectory(dir=os.path.dirname(path)) as tmp:
        copy = os.path.join(tmp, "compact.db")
        con = sqlite3.connect(path, timeout=60)
        con.execute("VACUUM INTO ?", (copy,))
        con.close()
        return os.path.getsize(copy)


def sqlite_counts(path):
    con = sqlite3.connect(path, timeout=60)
    out = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
           for t in ("user", "login_session", "auth_attempt", "user_token")}
    con.close()
    return out


# --- PostgreSQL ----------------------------------------------------------------------------

def _psql(url, sql):
    return subprocess.run(["psql", "-qAt", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def _pts(interval):
    return f"((now() AT TIME ZONE 'utc') + ({interval})::interval)"


def fill_postgres(url, scale=1.0):
    """Adds the rows (times `scale`) to the migrated PostgreSQL database at `url`, then
    VACUUM ANALYZEs them (what autovacuum does within minutes; run here so that it does not
    run during the measurements). Returns {table: seconds}."""
    import time
    users, logins, attempts, tokens = (int(n * scale) for n in (USERS, LOGINS, ATTEMPTS, TOKENS))
    took = {}
    base = int(_psql(url, 'SELECT coalesce(max(id), 0) FROM "user"'))
    pick_user = f"({base} + 1 + floor(random() * {users})::int)"
    hexes = "md5(random()::text)"

    def run(table, sql):
        started = time.monotonic()
        _psql(url, sql)
        took[table] = time.monotonic() - started

    run("user", f"""
        INSERT INTO "user" (id, email, username, password, active, premium, login_count,
                            fs_uniquifier, confirmed_at, last_login_at, current_login_at,
                            last_login_ip, current_login_ip)
        SELECT {base} + i, 'filler-' || i || '@example.com', NULL,
               (SELECT password FROM "user" ORDER BY id LIMIT 1), true, false, 1 + i % 7,
               {hexes}, {_pts("'-' || (i % 900) || ' days'")},
               {_pts("'-' || (i % 90) || ' days'")}, {_pts("'-' || (i % 30) || ' days'")},
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.7',
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.7'
        FROM generate_series(1, {users}) AS i;
        SELECT setval(pg_get_serial_sequence('"user"', 'id'), (SELECT max(id) FROM "user"));""")
    run("login_session", f"""
        INSERT INTO login_session (id, user_id, fs_uniquifier, created_at, last_seen_at, ip,
                                   user_agent, remember_hash, remember_expires_at,
                                   authenticated_at)
        SELECT {hexes} || substr({hexes}, 1, 4), {pick_user}, {hexes},
               CASE WHEN i % 20 = 0 THEN {_pts("'-' || (30 + i % 300) || ' minutes'")}
                    ELSE {_pts("'-' || (2 + i % 47) || ' hours'")} END,
               CASE WHEN i % 20 = 0 THEN {_pts("'-' || (i % 25) || ' minutes'")}
                    ELSE {_pts("'-' || (1 + i % 47) || ' hours'")} END,
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.9',
               'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
               CASE WHEN i % 40 = 0 OR i % 7 = 1 THEN {hexes} || {hexes} END,
               CASE WHEN i % 40 = 0 THEN {_pts("'30 days'")}
                    WHEN i % 7 = 1 THEN {_pts("'-1 days'")} END,
               CASE WHEN i % 20 = 0 THEN {_pts("'-' || (30 + i % 300) || ' minutes'")}
                    ELSE {_pts("'-' || (2 + i % 47) || ' hours'")} END
        FROM generate_series(1, {logins}) AS i""")
    actions = " ".join(f"WHEN {k} THEN '{a}'" for k, a in enumerate(ACTIONS))
    run("auth_attempt", f"""
        INSERT INTO auth_attempt (action, subject, ip, created_at)
        SELECT CASE (i / 10) % 5 {actions} END, {hexes} || {hexes},
               '10.' || (i % 250) || '.' || (i / 250 % 250) || '.' || (i % 11),
               CASE WHEN i % 10 = 0 THEN {_pts("'-' || (i % 50) || ' minutes'")}
                    WHEN (i / 10) % 5 = 1 THEN {_pts("'-' || (31 + i % 60) || ' days'")}
                    ELSE {_pts("'-' || (2 + i % 70) || ' hours'")} END
        FROM generate_series(1, {attempts}) AS i""")
    run("user_token", f"""
        INSERT INTO user_token (token_hash, user_id, purpose, binding, created_at, expires_at,
                                used_at)
        SELECT {hexes} || {hexes}, {pick_user},
               CASE i % 2 WHEN 0 THEN 'confirm' ELSE 'reset' END, {hexes} || {hexes},
               {_pts("'-' || (i % 120) || ' minutes'")},
               CASE i % 3 WHEN 1 THEN {_pts("'-1 hours'")} ELSE {_pts("'1 days'")} END,
               CASE i % 3 WHEN 0 THEN {_pts("'-5 minutes'")} END
        FROM generate_series(1, {tokens}) AS i""")
    run("vacuum", "VACUUM ANALYZE")
    return took


TABLES = ("user", "login_session", "auth_attempt", "user_token")


def postgres_size(url):
    """pg_database_size, and the four tables with their indexes and TOAST."""
    sizes = {"database": int(_psql(url, "SELECT pg_database_size(current_database())"))}
    sizes["tables"] = sum(int(_psql(url, f"SELECT pg_total_relation_size('\"{t}\"')"))
                          for t in TABLES)
    return sizes


def postgres_counts(url):
    return {t: int(_psql(url, f'SELECT count(*) FROM "{t}"')) for t in TABLES}


def postgres_vacuum(url):
    """Plain VACUUM ANALYZE (what autovacuum does soon after a big delete): the dead rows'
    room becomes reusable, the files keep their size."""
    _psql(url, "VACUUM ANALYZE")


def postgres_compact(url):
    """VACUUM FULL of the four tables (what an operator runs in a quiet hour): rewrites them
    to what their live rows need."""
    for t in TABLES:
        _psql(url, f'VACUUM (FULL, ANALYZE) "{t}"')
