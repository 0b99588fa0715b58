"""The conformance suite against Latchkey with every route moved, through a path map.

The suite speaks Flask-Security's default paths. This wrapper, the suite's APP_CMD, starts
Latchkey with the keys of moved-paths.env (SECURITY_URL_PREFIX and every SECURITY_*_URL
key changed) behind two small relays:

- HTTP on the suite's PORT: a request for a default path goes to the route's moved path; in
  each answer (Location, Refresh, HTML, JSON, text) a moved path is written back as the
  default one, so the suite's own checks hold.
- SMTP on a port of its own: each mail is forwarded to the suite's sink with its moved links
  written back the same way.

Before writing anything back, each answer and each mail is searched for a default path of a
moved route: Latchkey must never name one. Every finding is appended to PATHMAP_REPORT (one
line each); the CI step fails when that file is not empty. The table of routes comes from
the binary itself (`latchkey config urls --json`), so it is the app's own.

Usage (run by .ci/run):
  APP_CMD="$PY tests/conformance/pathmap.py $BIN" PATHMAP_REPORT=... ../shared/conformance/run.sh
"""

import asyncio
import base64
import email
import email.policy
import http.client
import http.server
import json
import os
import re
import smtplib
import socket
import socketserver
import subprocess
import sys
import threading
import time

from aiosmtpd.controller import Controller

HERE = os.path.dirname(os.path.abspath(__file__))
HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailers", "transfer-encoding", "upgrade", "content-length", "content-encoding",
}


def moved_keys():
    keys = {}
    with open(os.path.join(HERE, "moved-paths.env"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                keys[key.strip()] = value.strip()
    return keys


def pattern(path):
    """An actix pattern (`/confirm/{token}`) as a regex of a whole path, and its parts."""
    parts = re.split(r"(\{[^}]*\})", path)
    regex = "".join("([^/?#]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile("^" + regex + "$")


def fill(path, values):
    values = iter(values)
    return re.sub(r"\{[^}]*\}", lambda _m: next(values), path)


class Table:
    """Each moved route: its default pattern and its moved one."""

    def __init__(self, routes):
        self.moved = []
        for name, entry in routes.items():
            default, moved = entry["default"], entry["path"]
            if default != moved:
                self.moved.append((name, default, moved, pattern(default), pattern(moved)))
        # Longer, more specific patterns first.
        self.moved.sort(key=lambda r: -len(r[1]))

    def to_moved(self, path):
        for _name, _default, moved, d_re, _m_re in self.moved:
            m = d_re.match(path)
            if m:
                return fill(moved, m.groups())
        return path

    def to_default(self, path):
        for _name, default, _moved, _d_re, m_re in self.moved:
            m = m_re.match(path)
            if m:
                return fill(default, m.groups())
        return path

    def default_route_named(self, path):
        for name, _default, _moved, d_re, _m_re in self.moved:
            if d_re.match(path):
                return name
        return None


PATH_IN_TEXT = re.compile(r"(?<![\w.\-/:%@])(/[A-Za-z0-9_\-./~]*)")


class Checker:
    def __init__(self, table, origin, report):
        self.table, self.origin, self.report = table, origin, report
        self.lock = threading.Lock()

    def local(self, text):
        return text.replace(self.origin, "")

    def check(self, where, text):
        """Records every default path of a moved route named in `text`."""
        found = set()
        for m in PATH_IN_TEXT.finditer(self.local(text)):
            path = m.group(1).rstrip(".")
            name = self.table.default_route_named(path)
            if name:
                found.add(f"{where}: {path} ({name})")
        if found and self.report:
            with self.lock, open(self.report, "a", encoding="utf-8") as f:
                for line in sorted(found):
                    f.write(line + "\n")

    def rewrite(self, text):
        """Moved paths written back as default ones (absolute links keep their origin)."""
        return PATH_IN_TEXT.sub(lambda m: self.table.to_default(m.group(1)), text)

    def rewrite_absolute(self, text):
        escaped = re.escape(self.origin)
        text = re.sub(escaped + r"(/[A-Za-z0-9_\-./~]*)",
                      lambda m: self.origin + self.table.to_default(m.group(1)), text)
        return self.rewrite(text)


def http_relay(listen_port, upstream_port, checker):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args):
            pass

        def relay(self):
            path, sep, query = self.path.partition("?")
            target = checker.table.to_moved(path) + sep + query
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in HOP_BY_HOP and k.lower() != "accept-encoding"}
            conn = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=60)
            try:
                conn.request(self.command, target, body=body, headers=headers)
                res = conn.getresponse()
                data = res.read()
                out_headers = res.getheaders()
            finally:
                conn.close()
            where = f"{self.command} {target} -> {res.status}"
            kind = res.getheader("Content-Type", "")
            textual = kind.startswith(("text/html", "application/json", "text/plain"))
            if textual and data:
                text = data.decode("utf-8", "replace")
                checker.check(where, text)
                data = checker.rewrite_absolute(text).encode("utf-8")
            self.send_response(res.status, res.reason)
            for name, value in out_headers:
                low = name.lower()
                if low in HOP_BY_HOP:
                    continue
                if low in ("location", "refresh"):
                    checker.check(f"{where} {name}", value)
                    value = checker.rewrite_absolute(value)
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            elif res.getheader("Content-Length"):
                self.send_header("Content-Length", res.getheader("Content-Length"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def handle_one_request(self):
            try:
                super().handle_one_request()
            except (ConnectionError, socket.timeout):
                self.close_connection = True

        def __getattr__(self, name):
            if name.startswith("do_"):
                return self.relay
            raise AttributeError(name)

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", listen_port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def smtp_relay(sink_port, checker):
    class Handler:
        async def handle_DATA(self, _server, _session, envelope):
            message = email.message_from_bytes(envelope.content, policy=email.policy.compat32)
            for part in message.walk():
                if part.get_content_maintype() != "text":
                    continue
                raw = part.get_payload(decode=True) or b""
                charset = part.get_content_charset() or "utf-8"
                text = raw.decode(charset, "replace")
                checker.check(f"mail {message.get('Subject')!r} to {envelope.rcpt_tos}", text)
                # Base64 in lines of 76: SMTP refuses longer lines.
                rewritten = checker.rewrite_absolute(text).encode("utf-8")
                del part["Content-Transfer-Encoding"]
                part.set_payload(base64.encodebytes(rewritten).decode("ascii"))
                part["Content-Transfer-Encoding"] = "base64"
                part.set_param("charset", "utf-8")
            # SMTP lines end with CRLF (a bare LF would make the whole mail one line).
            data = message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))
            await asyncio.get_running_loop().run_in_executor(None, forward, data, envelope)
            return "250 OK"

    def forward(data, envelope):
        with smtplib.SMTP("127.0.0.1", sink_port, timeout=30) as smtp:
            smtp.sendmail(envelope.mail_from, envelope.rcpt_tos, data)

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    binary = sys.argv[1]
    env = dict(os.environ)
    env.update(moved_keys())
    routes = json.loads(subprocess.run(
        [binary, "config", "urls", "--json"], env=env, check=True, capture_output=True,
        text=True).stdout)
    port = int(env["PORT"])
    origin = env.get("BASE_URL", f"http://127.0.0.1:{port}").rstrip("/")
    checker = Checker(Table(routes), origin, env.get("PATHMAP_REPORT"))
    smtp, smtp_port = smtp_relay(int(env["MAIL_PORT"]), checker)
    upstream = free_port()
    env["PORT"] = str(upstream)
    env["MAIL_PORT"] = str(smtp_port)
    app = subprocess.Popen([binary], env=env)
    # The suite waits for the relay's port: open it once Latchkey answers.
    deadline = time.time() + 90
    while time.time() < deadline and app.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", upstream), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    http_relay(port, upstream, checker)
    try:
        sys.exit(app.wait())
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
