#!/usr/bin/env bash
# The quick start's first steps (README.md, docs/quick-start.md) on a fresh clone of the
# commit under test, with the real diesel CLI: `diesel migration run` then `cargo run` serves
# GET /login with 200, on SQLite (`.env`, `diesel.toml`) and on PostgreSQL (`diesel_pg.toml`,
# a throwaway database). The app embeds the same migrations, so it must find nothing to apply
# after the CLI (the recorded migrations are unchanged), and the CLI must find nothing to do
# after the app. Called by `.ci/run`; runs on its own too (needs libpq-dev, python3, curl and
# PostgreSQL on 127.0.0.1:5432).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
export CARGO_TERM_COLOR=never
# Cached between runs like .ci/run's target dir, but not the same one: cargo tells apart two
# checkouts' builds of this package only by file times, so a build of the clone there could
# later pass for an up-to-date build of the main checkout's uncommitted edits.
export CARGO_TARGET_DIR="${FRESH_CLONE_TARGET_DIR:-$HOME/.cache/latchkey-fresh-target}"
# A PostgreSQL role that may create databases (the CI server trusts local connections).
PG_SERVER="${FRESH_CLONE_PG_SERVER:-postgres://postgres@127.0.0.1:5432}"
CLI_ROOT="$HOME/.cache/latchkey-diesel-cli"
DIESEL="$CLI_ROOT/bin/diesel"
# Only what the fresh clone's .env and diesel.toml are meant to decide.
unset DATABASE_URL DIESEL_CONFIG_FILE PORT HOST BASE_URL

say() { printf -- '--- %s\n' "$*"; }
fail() {
  printf 'FAILED: %s\n' "$*" >&2
  exit 1
}

if [[ ! -x $DIESEL ]]; then
  say "installing the diesel CLI into $CLI_ROOT (cached for later runs)"
  started=$SECONDS
  env -u CARGO_TARGET_DIR cargo install diesel_cli --locked --no-default-features \
    --features "sqlite-bundled postgres" --root "$CLI_ROOT"
  say "diesel CLI installed in $((SECONDS - started)) s"
fi
"$DIESEL" --version | tr -s ' \n' ' '
echo

tmp="$(mktemp -d)"
run_id="latchkey_fresh_$(date +%s)_$$"
app_pid=""
databases=()
stop_app() {
  if [[ -n $app_pid ]]; then
    # cargo run execs the binary, started in its own process group: stop the whole group.
    kill -TERM -- "-$app_pid" 2>/dev/null || kill -TERM "$app_pid" 2>/dev/null || true
    wait "$app_pid" 2>/dev/null || true
    app_pid=""
  fi
}
cleanup() {
  stop_app
  for db in "${databases[@]}"; do
    psql "$PG_SERVER/postgres" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" ||
      echo "could not drop the database $db" >&2
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

git clone -q "$repo" "$tmp/fresh"
git -C "$tmp/fresh" checkout -q --detach "$(git -C "$repo" rev-parse HEAD)"
cd "$tmp/fresh"
say "fresh clone of $(git rev-parse --short HEAD) in $PWD"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# serve LOG DB [cargo args]: `cargo run [args]` in the background (with DATABASE_URL=DB, or
# .env's when DB is empty) until GET /login answers 200 (at most 120 s), then stops it.
serve() {
  local log="$tmp/$1.log" db=$2 port code=000 deadline
  shift 2
  cargo build -q "$@"
  port="$(free_port)"
  local vars=("PORT=$port" "BASE_URL=http://127.0.0.1:$port")
  [[ -z $db ]] || vars+=("DATABASE_URL=$db")
  env "${vars[@]}" setsid cargo run -q "$@" >"$log" 2>&1 &
  app_pid=$!
  deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/login" || true)"
    [[ $code == 200 ]] && break
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 1
  done
  stop_app
  if [[ $code != 200 ]]; then
    tail -n 30 "$log" >&2
    fail "cargo run${*:+ $*} did not serve GET /login (last status: $code)"
  fi
  say "cargo run${*:+ $*}: GET /login -> 200"
}

# diesel DB ARGS: the diesel CLI with DATABASE_URL=DB, or .env's when DB is empty.
diesel() {
  local db=$1
  shift
  if [[ -n $db ]]; then DATABASE_URL="$db" "$DIESEL" "$@"; else "$DIESEL" "$@"; fi
}

# The migrations a database has recorded (version and time applied), one a line.
recorded() {
  case "$1" in
    postgres://*)
      psql "$1" -At -c 'SELECT version, run_on FROM __diesel_schema_migrations ORDER BY version'
      ;;
    *)
      python3 - "$1" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
for version, run_on in db.execute(
        "SELECT version, run_on FROM __diesel_schema_migrations ORDER BY version"):
    print(f"{version}|{run_on}")
EOF
      ;;
  esac
}

# check BACKEND CLI_DB APP_DB [cargo args], with DIESEL_CONFIG_FILE as the quick start gives it.
# CLI_DB: `diesel migration run`, then `cargo run` (an empty CLI_DB: .env's DATABASE_URL).
# APP_DB: the reverse order.
check() {
  local backend=$1 cli_db=$2 app_db=$3 expected before after output
  shift 3
  local recorded_db="${cli_db:-$(sed -n 's/^DATABASE_URL=//p' .env)}"
  expected="$(find "migrations/$backend" -mindepth 1 -maxdepth 1 -type d | wc -l)"

  say "$backend: diesel migration run, then cargo run${*:+ $*}"
  diesel "$cli_db" migration run || fail "$backend: diesel migration run"
  before="$(recorded "$recorded_db")" ||
    fail "$backend: no migrations recorded by the diesel CLI"
  [[ $(wc -l <<<"$before") == "$expected" ]] ||
    fail "$backend: the diesel CLI recorded $(wc -l <<<"$before") migrations, migrations/$backend has $expected"
  serve "$backend-after-cli" "$cli_db" "$@"
  after="$(recorded "$recorded_db")"
  [[ $after == "$before" ]] ||
    fail "$backend: the app changed the migrations the diesel CLI had applied:"$'\n'"$before"$'\n'"->"$'\n'"$after"

  say "$backend: cargo run${*:+ $*}, then diesel migration run (nothing to do)"
  serve "$backend-app-first" "$app_db" "$@"
  [[ $(recorded "$app_db" | wc -l) == "$expected" ]] ||
    fail "$backend: the app did not record the $expected migrations"
  output="$(diesel "$app_db" migration run 2>&1)" ||
    fail "$backend: diesel migration run after the app: $output"
  [[ -z $output ]] || fail "$backend: diesel migration run after the app ran something: $output"
  [[ $(diesel "$app_db" migration pending) == false ]] ||
    fail "$backend: diesel migration pending after the app"
  say "$backend: ok"
}

check sqlite "" instance/app-first.db

databases=("${run_id}_cli" "${run_id}_app")
for db in "${databases[@]}"; do
  psql "$PG_SERVER/postgres" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
done
export DIESEL_CONFIG_FILE=diesel_pg.toml
check postgres "$PG_SERVER/${run_id}_cli?sslmode=disable" \
  "$PG_SERVER/${run_id}_app?sslmode=disable" --features postgres
unset DIESEL_CONFIG_FILE

# Nothing the app or the CLI wrote (databases, -wal/-shm files) shows up for git.
changes="$(git status --porcelain)"
[[ -z $changes ]] || fail "the runs left files git would track: $changes"
say "fresh clone: ok"
