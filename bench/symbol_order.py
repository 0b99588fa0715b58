#!/usr/bin/env python3
"""Writes bench/symbol-order.txt: the functions of the release binary that start-up and the
benchmark's requests run, busiest first, for the linker to lay out side by side (build.rs
passes it to lld as --symbol-ordering-file). Code the server never runs then stays on disk
instead of being read in with its neighbours (bench/README.md, "Fifth round").

    bench/symbol_order.py [BINARY]   # default: $CARGO_TARGET_DIR/release/latchkey

Runs BINARY under valgrind's callgrind (installed from Debian's package if missing) on a
fresh SQLite file, with bcrypt at cost 4 (the same code as cost 12): registrations, GET
/login, /profile, /sessions and / with the users' cookies, and a login flood. Mangled names
change with the compiler, the crates' versions and features: regenerate after an upgrade
(names that no longer exist are skipped by the linker; the binary is only larger in memory).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402


def executed(callgrind_out):
    """{mangled name: instructions run in it} from a callgrind file (--demangle=no)."""
    names, cost, current, after_call = {}, {}, None, False
    with open(callgrind_out, errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.+))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    # callgrind marks a recursive cycle's copies with 'N.
                    names[m.group(2)] = re.sub(r"'\d+$", "", m.group(3).strip())
                if m.group(1) == "fn":
                    current = names.get(m.group(2))
                after_call = False
                continue
            if line.startswith("calls="):
                after_call = True
                continue
            parts = line.split()
            if current and len(parts) >= 2 and parts[0].lstrip("+-").isdigit():
                if not after_call:
                    cost[current] = cost.get(current, 0) + int(parts[1])
                after_call = False
    for name in names.values():
        cost.setdefault(name, 0)
    return cost


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.dirname(HERE), "target"))
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else f"{target}/release/latchkey")
    if not shutil.which("valgrind"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "valgrind"], check=True)
    work = tempfile.mkdtemp(prefix="latchkey-order-")
    out = os.path.join(work, "callgrind.out")
    wrapper = os.path.join(work, "server.sh")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --demangle=no --dump-instr=no "
                f"--callgrind-out-file={out} {binary} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    opts = types.SimpleNamespace(secret_key="k" * 64, salt="s" * 32, rounds=4, rust_log=None,
                                 workdir=work, duration=3, flood=6, latchkey=wrapper)
    port = bench.free_port()
    env = bench.latchkey_env(opts, port, f"sqlite://{work}/db.sqlite3")
    proc, _ = bench.start_latchkey(opts, env, "server.log")
    try:
        r = {}
        emails = bench.logged_in_gets("Latchkey", port, opts, r)
        bench.wrk(port, "/", opts.duration)
        bench.flood_with_probe(port, emails, opts, r)
    finally:
        bench.stop(proc)
    cost = executed(out)
    nm = subprocess.run(["nm", "--defined-only", binary], capture_output=True, text=True,
                        check=True).stdout
    text = {p[2] for p in (line.split() for line in nm.splitlines())
            if len(p) == 3 and p[1] in "tTwW"}
    hot = sorted((n for n in cost if n in text), key=lambda n: (-cost[n], n))
    path = os.path.join(HERE, "symbol-order.txt")
    with open(path, "w") as f:
        f.write("\n".join(hot) + "\n")
    print(f"{path}: {len(hot)} functions", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
