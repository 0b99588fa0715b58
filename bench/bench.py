#!/usr/bin/env python3
"""Latchkey's benchmark: one run, one machine, every server in turn (see bench/README.md and
docs/benchmark.md). Started by bench/run.sh, which installs wrk and builds the binaries.

For each server: requests/s and p50/p99 of anonymous GET /login, authenticated GET /profile
(the cookies of 32 real registrations, in turn) and GET /; successful form logins per second from 8 client
connections while a light prober measures GET /'s p99; resident memory after the load; time
from process start to the first 200 on a fresh database. Then the table, the ratios against
the Flask reference and the bare actix-web baseline, and the bcrypt limit; then Latchkey's
start-up (median of --startup-runs starts on a fresh and an existing database, and an admin
command).

--growth runs the growth scenario instead (growth.py fills the database): the same figures on
the empty database, after adding a million users, logins and throttle rows and 100 000 link
tokens, while and after `latchkey db sweep`, with the database's size at each step.
"""
import argparse
import base64
import datetime
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = "bench-Horse-battery-9"


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, headers=None, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.getheaders(), r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def session_cookie(headers, old=None):
    """The session cookie a response sets: `session`, or `__Host-session` in production
    (Secure or not: this client sends it anyway, as wrk does with -H)."""
    for name, value in headers:
        if name.lower() == "set-cookie" and value.startswith(("session=", "__Host-session=")):
            return value.split(";", 1)[0]
    return old


def csrf_token(html):
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    if not m:
        raise RuntimeError("no csrf_token in the form")
    return m.group(1)


def wait_ready(port, path, started, deadline_s=120, poll=0.005):
    while time.monotonic() - started < deadline_s:
        try:
            status, _, _ = request(port, "GET", path, timeout=2)
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(poll)
    raise RuntimeError(f"no 200 on {path} within {deadline_s} s")


def register(port, email):
    """Registers through the form like a browser; returns the logged-in session cookie."""
    status, headers, body = request(port, "GET", "/register")
    cookie = session_cookie(headers)
    form = urllib.parse.urlencode({
        "email": email, "password": PASSWORD, "password_confirm": PASSWORD,
        "csrf_token": csrf_token(body),
    })
    status, headers, body = request(port, "POST", "/register", {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}, form)
    if status not in (302, 303):
        raise RuntimeError(f"registration answered {status}: {body[:300]}")
    cookie = session_cookie(headers, cookie)
    status, _, _ = request(port, "GET", "/profile", {"Cookie": cookie})
    if status != 200:
        raise RuntimeError(f"GET /profile with the registration's cookie answered {status}")
    return cookie


# Authenticated GETs send the cookies of this many users in turn, one per wrk connection:
# requests of many logins, not one login's cookie 32 times over.
PROFILE_USERS = 32

# The login flood's 8 connections log in 8 accounts, one each (as 8 people's browsers): one
# account from 8 connections at once meets Latchkey's per-account login throttle (answered
# 429 without a hash), which the reference does not have.
FLOOD_USERS = 8


def register_users(port, n):
    """n registered users (4 registrations at a time); their session cookies."""
    tag = secrets.token_hex(3)
    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(lambda i: register(port, f"bench-{tag}-{i}@example.com"), range(n)))


def parse_kv(text):
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            try:
                out[k.strip()] = float(v)
            except ValueError:
                pass
    return out


def wrk_cmd(port, path, threads, conns, seconds, script, headers=(), args=()):
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", "10s",
           "-s", os.path.join(HERE, script)]
    for h in headers:
        cmd += ["-H", h]
    cmd.append(f"http://127.0.0.1:{port}{path}")
    if args:
        cmd += ["--", *args]
    return cmd


def wrk(port, path, seconds, headers=(), cookies=()):
    """A GET load; with `cookies`, each request sends the next of them (many users)."""
    out = subprocess.run(wrk_cmd(port, path, 2, 32, seconds, "report.lua", headers, cookies),
                         capture_output=True, text=True, check=True).stdout
    r = parse_kv(out)
    if r.get("errors"):
        log(f"  warning: {int(r['errors'])} errors on {path}")
    return r


def descendants(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids + [d for k in kids for d in descendants(k)]


def rss_mb(pid):
    """VmRSS of the process and its children (gunicorn: master + workers)."""
    total_kb = 0
    for p in [pid, *descendants(pid)]:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def measure(name, cmd, env, port, opts, auth=True, cwd=None):
    log(f"{name}: starting")
    logfile = open(os.path.join(opts.workdir, f"{name.replace(' ', '_')}.log"), "w")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=logfile, stderr=subprocess.STDOUT)
    r = {"name": name}
    try:
        r["startup_s"] = wait_ready(port, "/login" if auth else "/", started)
        if auth:
            emails = logged_in_gets(name, port, opts, r)
        log(f"{name}: GET /")
        r["home"] = wrk(port, "/", opts.duration)
        if auth:
            log(f"{name}: login flood ({opts.flood} s, 8 connections, {len(emails)} accounts) + GET / prober")
            flood_with_probe(port, emails, opts, r)
        r["rss_mb"] = rss_mb(proc.pid)
        # After the RSS reading, which stays the figure of the load above.
        if auth and name.startswith("Latchkey") and opts.latchkey in cmd:
            oidc_figures(name, port, env, opts, r)
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
    finally:
        stop(proc)
        logfile.close()
    return r


# --- Sign in with Latchkey (the OpenID Connect provider) -----------------------------------

OIDC_REDIRECT = "http://127.0.0.1:9/callback"
# Authorize-to-token round trips timed one at a time (their p50 and p99).
OIDC_ROUND_TRIPS = 400
# Connections refreshing tokens at once for the token requests/s.
OIDC_CONNECTIONS = 8


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def oidc_figures(name, port, env, opts, r):
    """Sign in with Latchkey, into `r`: an app registered with `latchkey clients create`, 8
    users who allowed it once, then (1) the authorize-to-token round trip timed one at a
    time: GET /oidc/authorize with a signed-in user's cookie (consent remembered: a 302 with
    the code), then POST /oidc/token (Basic auth, PKCE verifier; an RS256 ID token signed);
    its p50 and p99; (2) token requests per second: 8 connections each refreshing its own
    token chain (each answer's refresh token is the next request's: rotation) for the
    benchmark's duration; every answer signs an ID token."""
    log(f"{name}: Sign in with Latchkey (authorize to token, token requests/s)")
    out = subprocess.run(
        [opts.latchkey, "clients", "create", "Bench app", "--redirect-uri", OIDC_REDIRECT,
         "--json"], env=env, cwd=opts.workdir, capture_output=True, text=True, check=True).stdout
    client = json.loads(out)
    basic = "Basic " + base64.b64encode(
        f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    verifier = secrets.token_urlsafe(48)
    query = urllib.parse.urlencode({
        "client_id": client["client_id"], "redirect_uri": OIDC_REDIRECT,
        "response_type": "code", "scope": "openid email", "state": "s",
        "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
        "code_challenge_method": "S256",
    })
    authorize = "/oidc/authorize?" + query
    form = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic}
    cookies = register_users(port, OIDC_CONNECTIONS)
    for cookie in cookies:
        _, headers, page = request(port, "GET", authorize, {"Cookie": cookie})
        fields = dict(urllib.parse.parse_qsl(query))
        fields.update({"csrf_token": csrf_token(page), "decision": "allow"})
        status, _, _ = request(port, "POST", "/oidc/authorize", {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": session_cookie(headers, cookie)}, urllib.parse.urlencode(fields))
        if status != 302:
            raise RuntimeError(f"the consent answered {status}")

    def round_trip(cookie):
        started = time.perf_counter()
        status, headers, _ = request(port, "GET", authorize, {"Cookie": cookie})
        location = dict((k.lower(), v) for k, v in headers).get("location", "")
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query)).get("code")
        if status != 302 or not code:
            raise RuntimeError(f"authorize answered {status} to {location!r}")
        status, _, body = request(port, "POST", "/oidc/token", form, urllib.parse.urlencode({
            "grant_type": "authorization_code", "code": code, "redirect_uri": OIDC_REDIRECT,
            "code_verifier": verifier}))
        if status != 200:
            raise RuntimeError(f"the token endpoint answered {status}: {body[:200]}")
        return time.perf_counter() - started, json.loads(body)["refresh_token"]

    times = sorted(round_trip(cookies[i % len(cookies)])[0] for i in range(OIDC_ROUND_TRIPS))
    r["oidc_round_trip"] = {
        "p50_ms": times[len(times) // 2] * 1000,
        "p99_ms": times[int(len(times) * 0.99) - 1] * 1000,
    }
    chains = [round_trip(cookie)[1] for cookie in cookies]
    deadline = time.monotonic() + opts.duration

    def refresh_chain(token):
        count = 0
        while time.monotonic() < deadline:
            status, _, body = request(port, "POST", "/oidc/token", form, urllib.parse.urlencode({
                "grant_type": "refresh_token", "refresh_token": token}))
            if status != 200:
                raise RuntimeError(f"a refresh answered {status}: {body[:200]}")
            token = json.loads(body)["refresh_token"]
            count += 1
        return count

    started = time.monotonic()
    with ThreadPoolExecutor(OIDC_CONNECTIONS) as pool:
        total = sum(pool.map(refresh_chain, chains))
    r["oidc_token_rps"] = total / (time.monotonic() - started)


def flood_args(emails):
    """login_flood.lua's arguments: the password, then the accounts (one per connection)."""
    if isinstance(emails, str):
        emails = [emails]
    return [PASSWORD, *(urllib.parse.quote(e, safe="") for e in emails)]


def flood_with_probe(port, emails, opts, r):
    """The login flood with the GET / prober beside it, into `r`."""
    flood = subprocess.Popen(
        wrk_cmd(port, "/login", 8, 8, opts.flood, "login_flood.lua", args=flood_args(emails)),
        stdout=subprocess.PIPE, text=True)
    probe = subprocess.Popen(
        wrk_cmd(port, "/", 1, 2, opts.flood, "probe.lua"),
        stdout=subprocess.PIPE, text=True)
    f = parse_kv(flood.communicate()[0])
    p = parse_kv(probe.communicate()[0])
    r["logins_per_s"] = f.get("logins", 0) / max(f.get("seconds", 1), 1e-9)
    r["flood"] = f
    r["probe"] = p


def logged_in_gets(name, port, opts, r):
    """Registers the login flood's FLOOD_USERS and PROFILE_USERS more, then measures GET /login
    and GET /profile (those users' cookies in turn) into `r`; returns the flood users' emails."""
    tag = secrets.token_hex(4)
    emails = [f"bench-{tag}-flood{i}@example.com" for i in range(FLOOD_USERS)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda e: register(port, e), emails))
    cookies = register_users(port, PROFILE_USERS)
    log(f"{name}: GET /login")
    r["login_page"] = wrk(port, "/login", opts.duration)
    log(f"{name}: GET /profile ({PROFILE_USERS} users logged in)")
    r["profile"] = wrk(port, "/profile", opts.duration, cookies=cookies)
    if name.startswith("Latchkey"):
        # The reference has no sessions page: its GET /profile is the yardstick.
        log(f"{name}: GET /sessions ({PROFILE_USERS} users logged in)")
        r["sessions"] = wrk(port, "/sessions", opts.duration, cookies=cookies)
    return emails


def load(name, port, opts, r):
    """The authenticated measurements, through `port`."""
    emails = logged_in_gets(name, port, opts, r)
    log(f"{name}: login flood ({opts.flood} s, 8 connections, {len(emails)} accounts)")
    flood = subprocess.run(
        wrk_cmd(port, "/login", 8, 8, opts.flood, "login_flood.lua", args=flood_args(emails)),
        capture_output=True, text=True, check=True).stdout
    f = parse_kv(flood)
    r["flood"] = f
    r["logins_per_s"] = f.get("logins", 0) / max(f.get("seconds", 1), 1e-9)


def scale_out(opts):
    """1 vs 3 Latchkey instances on one PostgreSQL database, each behind the round-robin
    proxy (examples/rr_proxy.rs), so that both sides pay for the proxy hop."""
    rows = []
    for n in (1, 3):
        db = f"latchkey_bench_{secrets.token_hex(4)}"
        psql(opts.pg_admin_url, f'CREATE DATABASE "{db}"')
        procs = []
        try:
            ports = [free_port() for _ in range(n)]
            for i, port in enumerate(ports):
                env = latchkey_env(opts, port, pg_url(opts.pg_admin_url, db))
                logfile = open(os.path.join(opts.workdir, f"scale{n}-{i}.log"), "w")
                procs.append(subprocess.Popen([opts.latchkey], env=env, cwd=opts.workdir,
                                              stdout=logfile, stderr=subprocess.STDOUT))
            for port in ports:
                wait_ready(port, "/login", time.monotonic())
            proxy_port = free_port()
            procs.append(subprocess.Popen(
                [opts.proxy, f"127.0.0.1:{proxy_port}", *[f"127.0.0.1:{p}" for p in ports]],
                stderr=subprocess.DEVNULL))
            wait_ready(proxy_port, "/login", time.monotonic())
            r = {"name": f"{n} instance{'s' if n > 1 else ''} behind the proxy"}
            load(r["name"], proxy_port, opts, r)
            r["rss_mb"] = sum(rss_mb(p.pid) for p in procs[:n])
            rows.append(r)
        finally:
            for p in procs:
                stop(p)
            psql(opts.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return rows


def scale_report(rows):
    out = ["", "## Scale-out: 1 vs 3 instances on PostgreSQL behind a round-robin proxy", "",
           "| | GET /login rps (p99 ms) | GET /profile rps (p99 ms) | logins/s | RSS (sum) |",
           "|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['name']} | {fmt(r['login_page']['rps'])} "
                   f"({r['login_page']['p99_ms']:.2f}) | {fmt(r['profile']['rps'])} "
                   f"({r['profile']['p99_ms']:.2f}) | {r['logins_per_s']:.2f} | "
                   f"{r['rss_mb']:.1f} MB |")
    out.append("")
    out.append("On one machine more instances share the same cores: this shows that they "
               "serve as one, not that they add capacity; across machines each adds its cores.")
    return "\n".join(out) + "\n"


def start_latchkey(opts, env, logname):
    """Starts Latchkey; returns the process and the seconds to its first 200 on /login. Its
    log goes to `logname` in the work folder, or nowhere with None (the growth scenario's
    minutes of load write gigabytes of request lines)."""
    logfile = open(os.path.join(opts.workdir, logname) if logname else os.devnull, "a")
    started = time.monotonic()
    proc = subprocess.Popen([opts.latchkey], env=env, cwd=opts.workdir, stdout=logfile,
                            stderr=subprocess.STDOUT)
    logfile.close()
    try:
        return proc, wait_ready(int(env["PORT"]), "/login", started, poll=0.001)
    except BaseException:
        stop(proc)
        raise


# --- Start-up ------------------------------------------------------------------------------

def startup_times(opts, runs):
    """Process start to the first 200 on GET /login, `runs` times each: on a fresh SQLite file,
    on the same file once it exists, and (if PostgreSQL answers) on a fresh and an existing
    PostgreSQL database; then an admin command (`latchkey roles list`, which loads the same
    services and checks the templates) on the existing file. Medians, in seconds."""
    out = {}
    folder = os.path.join(opts.workdir, "startup")
    os.makedirs(folder, exist_ok=True)

    def server(url):
        port = free_port()
        proc, took = start_latchkey(opts, latchkey_env(opts, port, url), "startup.log")
        stop(proc)
        return took

    fresh = [server(os.path.join(folder, f"fresh-{i}.db")) for i in range(runs)]
    existing = [server(os.path.join(folder, "fresh-0.db")) for _ in range(runs)]
    out["SQLite, fresh file"] = fresh
    out["SQLite, existing file"] = existing
    admin = []
    env = latchkey_env(opts, 0, os.path.join(folder, "fresh-0.db"))
    for _ in range(runs):
        started = time.monotonic()
        subprocess.run([opts.latchkey, "roles", "list"], env=env, cwd=opts.workdir,
                       check=True, capture_output=True)
        admin.append(time.monotonic() - started)
    out["admin command (roles list), SQLite"] = admin
    try:
        psql(opts.pg_admin_url, "SELECT 1")
    except (subprocess.CalledProcessError, FileNotFoundError):
        return out
    dbs = []
    try:
        pg_fresh = []
        for i in range(runs):
            db = f"latchkey_start_{secrets.token_hex(4)}"
            psql(opts.pg_admin_url, f'CREATE DATABASE "{db}"')
            dbs.append(db)
            pg_fresh.append(server(pg_url(opts.pg_admin_url, db)))
        out["PostgreSQL, fresh database"] = pg_fresh
        out["PostgreSQL, existing database"] = [
            server(pg_url(opts.pg_admin_url, dbs[0])) for _ in range(runs)]
    finally:
        for db in dbs:
            psql(opts.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return out


def startup_report(times, runs):
    out = ["", f"## Start-up: process start to the first 200 (median of {runs} runs)", "",
           "| | median | fastest | slowest | target |", "|---|---|---|---|---|"]
    targets = {"SQLite, fresh file": 0.100, "SQLite, existing file": 0.050}
    for what, values in times.items():
        med = statistics.median(values)
        target = targets.get(what)
        verdict = "" if target is None else (
            f"≤ {target * 1000:.0f} ms: {'met' if med <= target else '**missed**'}")
        out.append(f"| {what} | {med * 1000:.0f} ms | {min(values) * 1000:.0f} ms | "
                   f"{max(values) * 1000:.0f} ms | {verdict} |")
    return "\n".join(out) + "\n"


# --- Growth --------------------------------------------------------------------------------

def growth_gets(name, port, cookies, email, opts):
    """GET /login, GET /profile (the users' cookies in turn), the login flood with the GET /
    prober."""
    r = {}
    log(f"{name}: GET /login")
    r["login_page"] = wrk(port, "/login", opts.duration)
    log(f"{name}: GET /profile")
    r["profile"] = wrk(port, "/profile", opts.duration, cookies=cookies)
    log(f"{name}: login flood + GET / prober")
    flood_with_probe(port, email, opts, r)
    return r


def profile_during(port, cookies, cmd, env):
    """GET /profile under wrk for as long as `cmd` runs; its output and wrk's figures."""
    load = subprocess.Popen(
        wrk_cmd(port, "/profile", 2, 32, 3600, "report.lua", args=cookies),
        stdout=subprocess.PIPE, text=True)
    time.sleep(1)  # wrk connected and running
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    took = time.monotonic() - started
    time.sleep(0.5)
    load.send_signal(signal.SIGINT)  # wrk stops and reports what it measured
    w = parse_kv(load.communicate()[0])
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {done.stderr}")
    return done.stdout, took, w


def growth(opts, backend):
    """The growth scenario on one backend: figures on the empty database, after the fill,
    while and after `latchkey db sweep`; database sizes at each step."""
    import growth as fill
    name = f"Latchkey ({'SQLite' if backend == 'sqlite' else 'PostgreSQL'})"
    db = None
    if backend == "sqlite":
        path = os.path.join(opts.workdir, "growth.db")
        url = path
        size = lambda: fill.sqlite_size(path)
        counts = lambda: fill.sqlite_counts(path)
    else:
        db = f"latchkey_growth_{secrets.token_hex(4)}"
        psql(opts.pg_admin_url, f'CREATE DATABASE "{db}"')
        url = pg_url(opts.pg_admin_url, db)
        size = lambda: fill.postgres_size(url)
        counts = lambda: fill.postgres_counts(url)
    # The server never sweeps by itself here: `latchkey db sweep` does, when measured.
    port = free_port()
    env = latchkey_env(opts, port, url, {"HOUSEKEEPING_INTERVAL": "0"})
    g = {"name": name, "backend": backend}
    proc = None
    try:
        proc, _ = start_latchkey(opts, env, None)
        email = f"bench-{secrets.token_hex(4)}@example.com"
        register(port, email)
        cookies = register_users(port, PROFILE_USERS)
        g["empty"] = growth_gets(f"{name} empty", port, cookies, email, opts)
        stop(proc)
        g["size_empty"] = size()
        log(f"{name}: filling")
        g["fill_s"] = (fill.fill_sqlite(path, opts.growth_scale) if backend == "sqlite"
                       else fill.fill_postgres(url, opts.growth_scale))
        g["counts_filled"] = counts()
        g["size_filled"] = size()
        proc, g["start_filled_s"] = start_latchkey(opts, env, None)
        g["filled"] = growth_gets(f"{name} filled", port, cookies, email, opts)
        log(f"{name}: latchkey db sweep, with GET /profile under load")
        sweep_out, g["sweep_s"], g["during_sweep"] = profile_during(
            port, cookies, [opts.latchkey, "db", "sweep"], env)
        g["sweep_out"] = sweep_out
        if backend == "postgres":
            # Autovacuum would now work through 1.9 million dead rows for minutes, in the
            # middle of the measurements: done here instead, as it would be soon after.
            log(f"{name}: VACUUM ANALYZE after the sweep")
            fill.postgres_vacuum(url)
        g["counts_swept"] = counts()
        g["size_swept"] = size()
        g["swept"] = growth_gets(f"{name} swept", port, cookies, email, opts)
        stop(proc)
        proc = None
        if backend == "sqlite":
            g["live_size"] = fill.sqlite_live_size(path)
        else:
            log(f"{name}: VACUUM FULL (what the live rows need)")
            fill.postgres_compact(url)
            g["live_size"] = fill.postgres_size(url)["database"]
    finally:
        if proc:
            stop(proc)
        if db:
            psql(opts.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return g


def mb(n):
    return f"{n / 1e6:,.0f} MB".replace(",", " ")


def growth_report(rows):
    out = ["", "## Growth: 1 000 000 users, 1 000 000 logins, 1 000 000 throttle rows, "
           "100 000 link tokens", ""]
    for g in rows:
        e, f, s = g["empty"], g["filled"], g["swept"]
        out.append(f"### {g['name']}")
        out.append("")
        out.append("| measure | empty database | filled, before the sweep | after the sweep |")
        out.append("|---|---|---|---|")
        checks = []

        def line(label, key, higher_better=True, digits=0):
            def value(r):
                if key == "logins":
                    return r["logins_per_s"]
                if key == "flood_p99":
                    return r["probe"].get("p99_ms")
                return r[key]["rps"]
            base = value(e)
            cells = []
            for phase, r in (("before the sweep", f), ("after the sweep", s)):
                v = value(r)
                ratio = v / base if higher_better else base / v
                checks.append((f"{label}, {phase}: {ratio * 100:.0f}% of empty", ratio >= 0.9))
                cells.append(f"{fmt(v, digits)} ({ratio * 100:.0f}%)")
            out.append(f"| {label} | {fmt(base, digits)} | {cells[0]} | {cells[1]} |")

        line("GET /login, requests/s", "login_page")
        line("GET /profile, requests/s", "profile")
        line("form logins/s", "logins", digits=2)
        line("p99 of GET / during the login flood, ms (ratio: empty ÷ this)", "flood_p99",
             higher_better=False, digits=2)
        out.append(f"| p99 of GET /profile, ms | {e['profile']['p99_ms']:.2f} | "
                   f"{f['profile']['p99_ms']:.2f} | {s['profile']['p99_ms']:.2f} |")
        d = g["during_sweep"]
        out.append("")
        out.append(f"`latchkey db sweep` took {g['sweep_s']:.1f} s with GET /profile under load "
                   f"(wrk -t2 -c32, 32 users): {fmt(d.get('rps'))} requests/s, p99 "
                   f"{d.get('p99_ms', 0):.2f} ms, against {f['profile']['p99_ms']:.2f} ms idle "
                   f"(no sweep, the filled database just before), {int(d.get('errors', 0))} "
                   f"errors. It printed:")
        out.append("")
        out.append("```text")
        out.append(g["sweep_out"].rstrip())
        out.append("```")
        out.append("")
        out.append("| rows | filled | after the sweep |")
        out.append("|---|---|---|")
        for t, n in g["counts_filled"].items():
            out.append(f"| `{t}` | {fmt(n)} | {fmt(g['counts_swept'][t])} |")
        out.append("")
        fill_s = ", ".join(f"{t} {v:.0f} s" for t, v in g["fill_s"].items())
        out.append(f"Filled in {sum(g['fill_s'].values()):.0f} s ({fill_s}); start to the first "
                   f"200 on the filled database: {g['start_filled_s'] * 1000:.0f} ms.")
        out.append("")
        if g["backend"] == "sqlite":
            def sz(x):
                return (f"{mb(x['file'])} file + {mb(x['wal'])} WAL ({mb(x['free'])} of free "
                        f"pages; auto_vacuum {x['auto_vacuum']})")
            after = g["size_swept"]["file"] + g["size_swept"]["wal"]
        else:
            def sz(x):
                return f"{mb(x['database'])} database ({mb(x['tables'])} in the four tables)"
            after = g["size_swept"]["database"]
        live = g["live_size"]
        out.append(f"- empty: {sz(g['size_empty'])}")
        out.append(f"- filled: {sz(g['size_filled'])}")
        out.append(f"- after the sweep: {sz(g['size_swept'])}")
        what = "VACUUM INTO a copy" if g["backend"] == "sqlite" else "after VACUUM FULL"
        if g["backend"] == "postgres":
            out.append("- (after the sweep, VACUUM ANALYZE ran before anything was measured: "
                       "the dead rows' room is reusable, the files keep their size)")
        out.append(f"- what the live rows need ({what}): {mb(live)}")
        checks.append((f"database after the sweep {after / live:.2f}× what the live rows need",
                       after <= 2 * live))
        out.append("")
        out.append("Targets:")
        out.append("")
        for what, ok in checks:
            out.append(f"- {what}: {'met' if ok else '**missed**'}")
        out.append("")
    return "\n".join(out) + "\n"


def latchkey_env(opts, port, database_url, extra=None):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "APP_ENV": "production",
        "SECRET_KEY": opts.secret_key,
        "SECURITY_PASSWORD_SALT": opts.salt,
        # Production refuses cookies without Secure; wrk and this script send them over
        # plain HTTP anyway (they echo the header they are given).
        "SESSION_COOKIE_SECURE": "true",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": database_url,
        "SECURITY_BCRYPT_ROUNDS": str(opts.rounds),
        "SECURITY_SEND_REGISTER_EMAIL": "false",
        # Off by default, as in Flask-Security; the benchmark registers its users.
        "SECURITY_REGISTERABLE": "true",
        "MAIL_OUTBOX_DIR": os.path.join(opts.workdir, "mail"),
        "SECURITY_TEMPLATES_DIR": os.path.join(ROOT, "templates"),
        "STATIC_DIR": os.path.join(ROOT, "static"),
    }
    if opts.rust_log:
        env["RUST_LOG"] = opts.rust_log
    env.update(extra or {})
    return env


def psql(admin_url, sql):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin_url, "-c", sql],
                   check=True, capture_output=True)


def pg_url(admin_url, db):
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, ""))


def time_hash(opts):
    out = subprocess.run([opts.latchkey, "time-hash", "--rounds", str(opts.rounds),
                          "--count", "5"], capture_output=True, text=True, check=True).stdout
    return parse_kv(out)


def machine():
    cores = os.cpu_count()
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    return f"{platform.node()}: {cores} cores ({model}), {mem_kb / 1024 / 1024:.1f} GiB RAM, " \
           f"Linux {platform.release()}"


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}".replace(",", " ")


def report(results, hashing, opts):
    lines = []
    add = lines.append
    add(f"# Latchkey benchmark, {datetime.date.today().isoformat()}")
    add("")
    add(f"Machine: {machine()}.")
    add(f"wrk -t2 -c32, {opts.duration} s per GET; GET /profile and GET /sessions (Latchkey "
        f"only: the reference has no sessions page) send the session cookies of "
        f"{PROFILE_USERS} registered users in turn; login flood: wrk -t8 -c8 for {opts.flood} s "
        f"(each connection: GET /login for a fresh session and CSRF token, then POST /login; "
        f"{FLOOD_USERS} accounts, one per connection), "
        f"with GET / probed meanwhile by 2 connections at most 100 requests/s each. "
        f"bcrypt cost {opts.rounds} everywhere. Latchkey runs with APP_ENV=production"
        f"{', RUST_LOG=' + opts.rust_log if opts.rust_log else ''}.")
    add("")
    add(f"bcrypt limit: one hash at cost {int(hashing['rounds'])} takes {hashing['hash_ms']:.1f} ms "
        f"on one thread; {int(hashing['cores'])} cores ÷ that = **{hashing['limit_per_s']:.2f} "
        f"hashes/s** (all cores hashing at once measured {hashing['parallel_per_s']:.2f}/s).")
    add("")
    add("| server | GET /login rps (p50 / p99 ms) | GET /profile rps, logged in (p50 / p99 ms) "
        "| GET /sessions rps, logged in (p50 / p99 ms) "
        "| GET / rps (p50 / p99 ms) | logins/s | p99 GET / during flood (ms) | RSS after load "
        "| start to first 200 |")
    add("|---|---|---|---|---|---|---|---|---|")

    def cell(w):
        if not w:
            return "—"
        return f"{fmt(w['rps'])} ({w['p50_ms']:.2f} / {w['p99_ms']:.2f})"

    for r in results:
        add(f"| {r['name']} | {cell(r.get('login_page'))} | {cell(r.get('profile'))} | "
            f"{cell(r.get('sessions'))} | {cell(r.get('home'))} | {fmt(r.get('logins_per_s'), 2)} | "
            f"{fmt(r.get('probe', {}).get('p99_ms'), 2)} | {fmt(r.get('rss_mb'), 1)} MB | "
            f"{fmt(r.get('startup_s', 0) * 1000)} ms |")
    add("")
    by = {r["name"]: r for r in results}
    flask, base = by.get("Flask reference"), by.get("actix hello baseline")
    limit = hashing["limit_per_s"]
    add("## Ratios and targets")
    add("")
    add("| server | GET /login ×Flask | /login vs baseline | GET /profile ×Flask "
        "| GET /sessions ×Flask's /profile | /profile vs baseline | logins/s vs bcrypt limit "
        "| logins/s ×Flask | p99 GET / in flood | RSS |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for r in results:
        if not r["name"].startswith("Latchkey"):
            continue

        def ratio(key, other):
            if other and r.get(key) and other.get(key):
                return r[key]["rps"] / other[key]["rps"]
            return None

        lf = ratio("login_page", flask)
        pf = ratio("profile", flask)
        sf = (r["sessions"]["rps"] / flask["profile"]["rps"]
              if flask and r.get("sessions") and flask.get("profile") else None)
        lg = (r.get("logins_per_s", 0) / flask["logins_per_s"]
              if flask and flask.get("logins_per_s") else None)
        lb = r["login_page"]["rps"] / base["home"]["rps"] if base else None
        pb = r["profile"]["rps"] / base["home"]["rps"] if base else None
        ll = r.get("logins_per_s", 0) / limit
        p99 = r.get("probe", {}).get("p99_ms")
        # None: not measured in this run (a server left out with --only).
        def at_least(v, target):
            return None if v is None else v >= target

        checks = [
            ("GET /login ≥ 20× Flask", at_least(lf, 20)),
            ("GET /login ≥ 50% of baseline", at_least(lb, 0.5)),
            ("GET /profile ≥ 30× Flask", at_least(pf, 30)),
            ("GET /sessions ≥ 30× Flask's GET /profile", at_least(sf, 30)),
            ("GET /profile ≥ 30% of baseline", at_least(pb, 0.3)),
            ("logins/s ≥ 95% of bcrypt limit", ll >= 0.95),
            ("logins/s ≥ 0.97× Flask", at_least(lg, 0.97)),
            ("p99 GET / during flood < 10 ms", p99 is not None and p99 < 10),
        ]
        if "SQLite" in r["name"]:
            checks.append(("RSS after the whole load ≤ 32 MB", r["rss_mb"] <= 32))
        verdicts.append((r["name"], checks))

        def pct(v):
            return "—" if v is None else f"{v * 100:.0f}%"

        def times(v):
            return "—" if v is None else f"{v:.1f}×"

        add(f"| {r['name']} | {times(lf)} | {pct(lb)} | {times(pf)} | {times(sf)} | {pct(pb)} | "
            f"{pct(ll)} | {'—' if lg is None else f'{lg:.2f}×'} | {fmt(p99, 2)} ms | {fmt(r['rss_mb'], 1)} MB |")
    if flask:
        add("")
        add(f"Flask reference for comparison: {flask.get('logins_per_s', 0) / limit * 100:.0f}% of "
            f"the bcrypt limit, p99 of GET / during its flood "
            f"{fmt(flask.get('probe', {}).get('p99_ms'), 0)} ms.")
    add("")
    add("Targets (ratios from this run):")
    add("")
    for name, checks in verdicts:
        for what, ok in checks:
            verdict = "not measured (left out of this run)" if ok is None else (
                "met" if ok else "**missed**")
            add(f"- {name}: {what}: {verdict}")
    add("")
    oidc = [r for r in results if r.get("oidc_round_trip")]
    if oidc:
        add("Sign in with Latchkey (after the RSS reading): authorize to token, one at a time, "
            f"{OIDC_ROUND_TRIPS} round trips (GET /oidc/authorize with a signed-in user's cookie, "
            "then POST /oidc/token with the code: an RS256 ID token signed); token requests/s: "
            f"{OIDC_CONNECTIONS} connections refreshing their own rotating refresh token chains "
            f"for {opts.duration} s, each answer a new ID token:")
        add("")
        for r in oidc:
            rt = r["oidc_round_trip"]
            add(f"- {r['name']}: authorize to token p50 {rt['p50_ms']:.2f} ms, p99 "
                f"{rt['p99_ms']:.2f} ms; {fmt(r['oidc_token_rps'])} token requests/s")
        add("")
    add("Login flood detail (successful / form refused / 503 busy / other):")
    add("")
    for r in results:
        f = r.get("flood")
        if f:
            add(f"- {r['name']}: {int(f.get('logins', 0))} / {int(f.get('refused', 0))} / "
                f"{int(f.get('busy', 0))} / {int(f.get('other', 0))} in {f.get('seconds', 0):.1f} s")
    return "\n".join(lines) + "\n"


def growth_main(opts, only):
    """--growth: the scenario on each backend, then the start-up figures."""
    rows = []
    for backend in ("sqlite", "postgres"):
        if backend in only:
            rows.append(growth(opts, backend))
    text = (f"# Latchkey growth benchmark, {datetime.date.today().isoformat()}\n\n"
            f"Machine: {machine()}.\n"
            f"Each phase: wrk -t2 -c32 for {opts.duration} s per GET (GET /profile with the "
            f"session cookies of {PROFILE_USERS} users in turn), then the login flood "
            f"(wrk -t8 -c8, {opts.flood} s) with GET / probed beside it; bcrypt cost "
            f"{opts.rounds}; APP_ENV=production; HOUSEKEEPING_INTERVAL=0 (the sweep is "
            f"`latchkey db sweep`, run once). Ratios are against the empty database of the same "
            f"run; the targets: at least 90% of the empty database's figure before and after "
            f"the sweep, and the database after the sweep within 2× of what its live rows "
            f"need.\n")
    text += growth_report(rows)
    if opts.startup_runs:
        log(f"start-up: {opts.startup_runs} runs each")
        text += startup_report(startup_times(opts, opts.startup_runs), opts.startup_runs)
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--latchkey", required=True, help="the release latchkey binary")
    ap.add_argument("--hello", required=True, help="the release hello example binary")
    ap.add_argument("--ref", default=os.path.join(ROOT, "..", "shared", "ref", "run.sh"))
    ap.add_argument("--pg-admin-url", default="postgres://127.0.0.1/postgres")
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--flood", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--rust-log", default="", help="RUST_LOG for Latchkey (default: its own)")
    ap.add_argument("--only", default="sqlite,postgres,flask,hello",
                    help="comma-separated subset of sqlite,postgres,flask,hello")
    ap.add_argument("--out", help="also write the report (markdown) here")
    ap.add_argument("--proxy", help="the release rr_proxy example binary")
    ap.add_argument("--scale-out", action="store_true",
                    help="also measure 1 vs 3 instances on PostgreSQL behind the proxy")
    ap.add_argument("--growth", action="store_true",
                    help="instead of the four servers: the growth scenario (a million users, "
                         "logins and throttle rows) on the backends --only names")
    ap.add_argument("--growth-scale", type=float, default=1.0,
                    help="the growth scenario's row counts times this (a quick trial: 0.01)")
    ap.add_argument("--startup-runs", type=int, default=7,
                    help="start-up is the median of this many starts (0: not measured)")
    opts = ap.parse_args()
    only = set(opts.only.split(","))
    opts.secret_key = secrets.token_hex(32)
    opts.salt = secrets.token_hex(32)

    with tempfile.TemporaryDirectory(prefix="latchkey-bench-") as workdir:
        opts.workdir = workdir
        if opts.growth:
            text = growth_main(opts, only)
            print(text)
            if opts.out:
                with open(opts.out, "w") as f:
                    f.write(text)
                log(f"written to {opts.out}")
            return
        log("timing bcrypt")
        hashing = time_hash(opts)
        results = []
        if "sqlite" in only:
            port = free_port()
            env = latchkey_env(opts, port, os.path.join(workdir, "bench.db"))
            results.append(measure("Latchkey (SQLite)", [opts.latchkey], env, port, opts,
                                   cwd=workdir))
        if "postgres" in only:
            db = f"latchkey_bench_{secrets.token_hex(4)}"
            try:
                psql(opts.pg_admin_url, f'CREATE DATABASE "{db}"')
            except (subprocess.CalledProcessError, FileNotFoundError) as e:
                log(f"PostgreSQL skipped: cannot create a database at {opts.pg_admin_url}: {e}")
                db = None
            if db:
                try:
                    port = free_port()
                    env = latchkey_env(opts, port, pg_url(opts.pg_admin_url, db))
                    results.append(measure("Latchkey (PostgreSQL)", [opts.latchkey], env, port,
                                           opts, cwd=workdir))
                finally:
                    psql(opts.pg_admin_url, f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        if "flask" in only:
            port = free_port()
            env = dict(os.environ, PORT=str(port),
                       DATABASE_URL=os.path.join(workdir, "flask", "bench.db"),
                       SECRET_KEY=opts.secret_key, SECURITY_PASSWORD_SALT=opts.salt,
                       SECURITY_SEND_REGISTER_EMAIL="false")
            results.append(measure("Flask reference", ["bash", opts.ref], env, port, opts))
        if "hello" in only:
            port = free_port()
            env = {"PATH": os.environ.get("PATH", ""), "PORT": str(port)}
            results.append(measure("actix hello baseline", [opts.hello], env, port, opts,
                                   auth=False))
        text = report(results, hashing, opts)
        if opts.startup_runs:
            log(f"start-up: {opts.startup_runs} runs each")
            text += startup_report(startup_times(opts, opts.startup_runs), opts.startup_runs)
        if opts.scale_out:
            text += scale_report(scale_out(opts))
    print(text)
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(text)
        log(f"written to {opts.out}")


if __name__ == "__main__":
    main()
