#!/usr/bin/env bash
# Latchkey's benchmark in one command: installs wrk (Debian's package) if missing, builds the
# release binary and the bare actix-web baseline, then runs bench.py, which starts Latchkey
# (SQLite), Latchkey (PostgreSQL on 127.0.0.1:5432, its own database), the Flask reference
# and the baseline in turn and prints the table, then the start-up times (median of
# --startup-runs starts). Arguments go to bench.py (e.g. --out FILE, --only sqlite,hello,
# --duration 8, --flood 20; --growth for the growth scenario instead: a million users, logins
# and throttle rows, before and after `latchkey db sweep`); see `bench/run.sh --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/latchkey-target}"

if ! command -v wrk >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
need=()
command -v psql >/dev/null || need+=(postgresql-client)
if ((${#need[@]})); then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# The server alone, as `cargo build --release --features postgres` builds it: with the examples
# in the same command their dev-dependencies' features would change the crates' symbol names,
# and the binary would no longer match bench/symbol-order.txt (see build.rs).
cargo build --release --features postgres --bin latchkey >&2
cargo build --release --features postgres --example hello --example rr_proxy >&2
exec python3 bench/bench.py \
  --latchkey "$CARGO_TARGET_DIR/release/latchkey" \
  --hello "$CARGO_TARGET_DIR/release/examples/hello" \
  --proxy "$CARGO_TARGET_DIR/release/examples/rr_proxy" "$@"
