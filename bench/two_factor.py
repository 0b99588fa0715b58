#!/usr/bin/env python3
"""What a two-factor login costs against a password login, on one server in one run.

Starts the release `latchkey` on a fresh SQLite file with two-factor on, registers users,
gives half of them an authenticator (the key from /tf-setup, codes computed here), then logs
each user in once, one login at a time: a password login is one request (one bcrypt
verify); a two-factor login is the password request plus /tf-validate (decrypting the TOTP
secret: PBKDF2, 2^14 rounds; recording the code's step). Prints the medians and the
difference, and writes them as Markdown with --out.

    cargo build --release --features postgres
    python3 bench/two_factor.py --latchkey "$CARGO_TARGET_DIR/release/latchkey" [--users 20] [--out FILE]
"""
import argparse
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

PASSWORD = "bench-Horse-battery-9"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One browser: a cookie jar of one session cookie, JSON requests."""

    def __init__(self, port):
        self.port = port
        self.cookie = None

    def request(self, method, path, body=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["X-CSRF-Token"] = token
        if self.cookie:
            headers["Cookie"] = self.cookie
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = conn.getresponse()
        for name, value in r.getheaders():
            if name.lower() == "set-cookie" and value.startswith("session="):
                self.cookie = value.split(";", 1)[0]
        text = r.read().decode()
        conn.close()
        return r.status, (json.loads(text) if text.startswith("{") else {})

    def token(self, path):
        _, body = self.request("GET", path)
        return body["response"]["csrf_token"]

    def post(self, path, body, token_from=None):
        return self.request("POST", path, body, self.token(token_from or path))


def totp(key_b32, at):
    key = base64.b32decode(key_b32 + "=" * (-len(key_b32) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(at) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def wait_ready(port, deadline_s=60):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        try:
            status, _ = Client(port).request("GET", "/login")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("latchkey did not start")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latchkey", required=True)
    ap.add_argument("--users", type=int, default=20, help="logins of each kind")
    ap.add_argument("--rounds", type=int, default=12, help="bcrypt cost")
    ap.add_argument("--out")
    opts = ap.parse_args()

    port = free_port()
    tmp = tempfile.mkdtemp(prefix="latchkey-bench-tf-")
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": os.path.join(tmp, "bench.db"),
        "SECRET_KEY": secrets.token_hex(32),
        "SECURITY_PASSWORD_SALT": secrets.token_hex(16),
        "PORT": str(port),
        "BASE_URL": f"http://127.0.0.1:{port}",
        "MAIL_OUTBOX_DIR": os.path.join(tmp, "mail"),
        "SECURITY_TWO_FACTOR": "true",
        "SECURITY_TOTP_SECRETS": secrets.token_hex(32),
        "SECURITY_BCRYPT_ROUNDS": str(opts.rounds),
        "SECURITY_REGISTERABLE": "true",
        # One address logs in many users: keep the per-address spraying limit out of it.
        "SECURITY_LOGIN_FAILURES_PER_IP": "0",
        "RUST_LOG": "warn",
    })
    proc = subprocess.Popen([opts.latchkey], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(port)
        plain, two_factor = [], []
        for i in range(opts.users):
            for kind in ("plain", "tf"):
                email = f"{kind}-{i}-{secrets.token_hex(3)}@example.com"
                c = Client(port)
                status, _ = c.post("/register", {"email": email, "password": PASSWORD,
                                                 "password_confirm": PASSWORD})
                assert status == 200, status
                if kind == "tf":
                    _, body = c.post("/tf-setup", {"setup": "authenticator"})
                    key = body["response"]["tf_authr_b32key"]
                    state = body["response"]["tf_state_token"]
                    status, _ = c.post(f"/tf-setup/{state}", {"code": totp(key, time.time() - 30)},
                                       token_from="/tf-setup")
                    assert status == 200, status
                    two_factor.append((email, key))
                else:
                    plain.append(email)

        def timed_login(email, key=None):
            c = Client(port)
            token = c.token("/login")
            started = time.perf_counter()
            status, body = c.request("POST", "/login", {"email": email, "password": PASSWORD}, token)
            assert status == 200, (status, body)
            if key is not None:
                assert body["response"]["tf_required"] is True
                token = body["response"]["csrf_token"]
                status, body = c.request("POST", "/tf-validate", {"code": totp(key, time.time())}, token)
                assert status == 200, (status, body)
            return (time.perf_counter() - started) * 1000

        # Alternate the two kinds so that both see the same machine.
        plain_ms, tf_ms = [], []
        for email, (tf_email, key) in zip(plain, two_factor):
            plain_ms.append(timed_login(email))
            tf_ms.append(timed_login(tf_email, key))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)

    p, t = statistics.median(plain_ms), statistics.median(tf_ms)
    lines = [
        f"# Two-factor login cost ({datetime.date.today()}, {platform.node()}, {os.cpu_count()} cores)",
        "",
        f"Release binary, SQLite, bcrypt cost {opts.rounds}, {opts.users} logins of each kind, one at a time.",
        "",
        "| login | median ms | min ms | max ms |",
        "|---|---|---|---|",
        f"| password only (1 request) | {p:.1f} | {min(plain_ms):.1f} | {max(plain_ms):.1f} |",
        f"| password + authenticator code (2 requests) | {t:.1f} | {min(tf_ms):.1f} | {max(tf_ms):.1f} |",
        "",
        f"A two-factor login costs **{t - p:.1f} ms** more than a password login "
        f"({(t / p - 1) * 100:.1f}%): one password hash either way, plus the second request "
        "(decrypting the TOTP secret, PBKDF2 2^14, and recording the code's step).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if opts.out:
        with open(opts.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    sys.exit(main())
