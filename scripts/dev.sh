#!/usr/bin/env bash
# Developer entry point of erplibre_devops: run the app, run every test.
#
#   scripts/dev.sh run      Odoo 18 with the addon at http://localhost:8069 (admin/admin)
#   scripts/dev.sh test     lint, engine tests (pytest), Odoo tests (incl. the browser test)
#   scripts/dev.sh lint     ruff check, ruff format --check, pylint-odoo
#   scripts/dev.sh pytest [ARGS]    the engine tests alone, ARGS passed to pytest
#   scripts/dev.sh odoo-test [TAGS] the Odoo tests alone (default tags: /erplibre_devops)
#   scripts/dev.sh shell    an Odoo shell on the app database
#   scripts/dev.sh i18n     export i18n/erplibre_devops.pot and merge it into i18n/fr.po
#   scripts/dev.sh bench    the engine benchmarks (benchmarks/engine_bench.py)
#   scripts/dev.sh stop     stop the private PostgreSQL cluster
#
# Where things are:
#   Odoo source     $ODOO_SRC, else /opt/odoo/18.0, else a shallow clone of odoo 18.0 in the cache
#   extra addons    $ODOO_ADDONS_PATH (comma-separated), appended to the addons path
#   state           .work/ under the checkout: PostgreSQL cluster, odoo.conf, filestore, logs
#   cache           ${XDG_CACHE_HOME:-~/.cache}/erplibre_devops: the virtualenv (keyed by the
#                   requirements it holds) and the addons-path link named erplibre_devops.
#                   Neither lives under the checkout: Odoo walks a module's tree (following
#                   links) when it exports terms, and must not find a venv or a link back.
# Environment: DB (app database, default erplibre_devops), HTTP_PORT (default 8069),
# PYTHON (interpreter for the venv, default python3), CI=true makes any skipped test fail.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${ERPLIBRE_DEVOPS_WORK:-$HERE/.work}
CACHE=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/erplibre_devops
DB=${DB:-erplibre_devops}
TEST_DB=${TEST_DB:-erplibre_devops_test}
HTTP_PORT=${HTTP_PORT:-8069}
PYTHON=${PYTHON:-python3}
MODULE=erplibre_devops

say() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }
die() {
  printf '\033[1;31m[dev] %s\033[0m\n' "$*" >&2
  exit 1
}
sha() { sha1sum | cut -c1-12; }

# --- Odoo source -------------------------------------------------------------------
find_odoo() {
  ODOO=
  if [ -n "${ODOO_SRC:-}" ]; then
    [ -f "$ODOO_SRC/odoo-bin" ] || die "ODOO_SRC=$ODOO_SRC holds no odoo-bin: point it at an Odoo 18 source tree."
    ODOO=$(cd "$ODOO_SRC" && pwd)
  elif [ -f /opt/odoo/18.0/odoo-bin ]; then
    ODOO=/opt/odoo/18.0
  elif [ -f "$CACHE/odoo-18.0/odoo-bin" ]; then
    ODOO=$CACHE/odoo-18.0
  else
    say "No Odoo 18 tree in \$ODOO_SRC or /opt/odoo/18.0: cloning Odoo 18.0 (shallow) into $CACHE/odoo-18.0"
    mkdir -p "$CACHE"
    rm -rf "$CACHE/odoo-18.0.tmp"
    timeout 900 git clone --quiet --depth 1 --branch 18.0 https://github.com/odoo/odoo.git "$CACHE/odoo-18.0.tmp" ||
      die "Odoo 18 not found and the clone failed: set ODOO_SRC to an Odoo 18 source tree."
    mv "$CACHE/odoo-18.0.tmp" "$CACHE/odoo-18.0"
    ODOO=$CACHE/odoo-18.0
  fi
  grep -qE "^version_info = \(18, 0" "$ODOO/odoo/release.py" ||
    die "$ODOO is not Odoo 18.0 ($(grep -m1 '^version_info' "$ODOO/odoo/release.py" || echo 'no release.py'))."
}

# --- Python virtualenv ---------------------------------------------------------------
ensure_venv() {
  local key
  key=$( (
    "$PYTHON" -c 'import sys; print(sys.version)'
    cat "$ODOO/requirements.txt" "$HERE/requirements.txt" "$HERE/requirements-dev.txt"
  ) | sha)
  VENV=$CACHE/venv-$key
  if [ ! -f "$VENV/.complete" ]; then
    say "Creating the virtualenv $VENV (Odoo's and the addon's requirements; a few minutes once)"
    rm -rf "$VENV"
    mkdir -p "$CACHE"
    "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed: install python3-venv."
    local constraint=$CACHE/constraints.txt req=$CACHE/odoo-requirements-$key.txt
    # Some of Odoo's pinned source packages still import pkg_resources (setuptools < 70).
    echo 'setuptools<70' >"$constraint"
    # python-ldap needs LDAP headers and only serves auth_ldap, which this tree never loads.
    grep -v '^python-ldap' "$ODOO/requirements.txt" >"$req"
    # pip >= 25.3 applies constraints to build environments only through PIP_BUILD_CONSTRAINT.
    export PIP_CONSTRAINT=$constraint PIP_BUILD_CONSTRAINT=$constraint
    "$VENV/bin/pip" install --quiet --upgrade pip 'setuptools<70' wheel
    "$VENV/bin/pip" install --quiet -r "$req" \
      -r "$HERE/requirements.txt" -r "$HERE/requirements-dev.txt" ||
      die "pip could not install the requirements (see above)."
    touch "$VENV/.complete"
  fi
  export PATH="$VENV/bin:$PATH"
}

# --- The addons path: a link named erplibre_devops to this checkout ----------------
ensure_addons_link() {
  LINKS=$CACHE/addons-$(printf '%s' "$HERE" | sha)
  mkdir -p "$LINKS"
  ln -sfn "$HERE" "$LINKS/$MODULE"
  ADDONS_PATH="$ODOO/odoo/addons,$ODOO/addons,$LINKS"
  [ -n "${ODOO_ADDONS_PATH:-}" ] && ADDONS_PATH="$ADDONS_PATH,$ODOO_ADDONS_PATH"
  return 0
}

# --- Private PostgreSQL cluster under the checkout ----------------------------------
# PostgreSQL refuses to run as root: as root the cluster belongs to the 'postgres' system user.
pg_bin() {
  local dir
  for dir in "${PG_BINDIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
    [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && {
      echo "$dir"
      return
    }
  done
  command -v pg_ctl >/dev/null && dirname "$(command -v pg_ctl)" && return
  die "PostgreSQL server binaries (pg_ctl, initdb) not found: apt-get install postgresql."
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_pg() {
  PGBIN=$(pg_bin)
  PGROOT=$WORK/pg
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "Running as root needs the 'postgres' system user (apt-get install postgresql)."
    mkdir -p "$PGROOT"
    chown postgres: "$PGROOT"
    if ! runuser -u postgres -- test -w "$PGROOT"; then
      PGROOT=/var/tmp/erplibre_devops-pg-$(printf '%s' "$HERE" | sha)
      say "The postgres user cannot reach $WORK: using $PGROOT for the cluster instead."
      mkdir -p "$PGROOT"
      chown postgres: "$PGROOT"
    fi
  else
    mkdir -p "$PGROOT"
  fi
  chmod 700 "$PGROOT"
  PGSOCK=$PGROOT
  # A unix socket path is limited to ~107 bytes.
  if [ ${#PGSOCK} -gt 90 ]; then
    PGSOCK=/tmp/erplibre_devops-sock-$(printf '%s' "$HERE" | sha)
    mkdir -p "$PGSOCK"
    [ "$(id -u)" = 0 ] && chown postgres: "$PGSOCK"
  fi
  export PGHOST=$PGSOCK PGPORT=5432 PGUSER=odoo
  if [ ! -f "$PGROOT/data/PG_VERSION" ]; then
    say "Creating the private PostgreSQL cluster in $PGROOT/data"
    as_pg "$PGBIN/initdb" --pgdata="$PGROOT/data" --username=postgres --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 >"$PGROOT/initdb.log" 2>&1 ||
      die "initdb failed: see $PGROOT/initdb.log"
  fi
  if ! as_pg "$PGBIN/pg_ctl" status --pgdata="$PGROOT/data" >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" start --pgdata="$PGROOT/data" --wait --log="$PGROOT/server.log" \
      -o "-c listen_addresses='' -c unix_socket_directories='$PGSOCK' -p 5432" >/dev/null ||
      die "PostgreSQL did not start: see $PGROOT/server.log"
  fi
  if ! psql -U postgres -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'odoo'" | grep -q 1; then
    psql -q -U postgres -d postgres -c "CREATE ROLE odoo LOGIN CREATEDB" ||
      die "could not create the 'odoo' PostgreSQL role"
  fi
}

stop_pg() {
  PGBIN=$(pg_bin)
  local root
  for root in "$WORK/pg" /var/tmp/erplibre_devops-pg-$(printf '%s' "$HERE" | sha); do
    [ -f "$root/data/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" stop --pgdata="$root/data" --mode=fast 2>/dev/null &&
      say "PostgreSQL stopped ($root)"
  done
  return 0
}

# --- Odoo ----------------------------------------------------------------------------
write_conf() {
  mkdir -p "$WORK/data" "$WORK/logs"
  CONF=$WORK/odoo.conf
  cat >"$CONF" <<EOF
[options]
addons_path = $ADDONS_PATH
data_dir = $WORK/data
db_host = $PGSOCK
db_port = 5432
db_user = odoo
db_password = False
http_interface = 127.0.0.1
without_demo = all
list_db = False
EOF
}

setup() {
  find_odoo
  ensure_venv
  ensure_addons_link
  ensure_pg
  write_conf
}

odoo_bin() { python "$ODOO/odoo-bin" -c "$CONF" "$@"; }

db_exists() { psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$1'" | grep -q 1; }

cmd_run() {
  setup
  if db_exists "$DB"; then
    say "Updating $MODULE in the database $DB"
    set -- -u "$MODULE"
  else
    say "First run: creating the database $DB with $MODULE installed"
    set -- -i "$MODULE"
  fi
  say "Odoo 18 at http://localhost:$HTTP_PORT (admin / admin); Ctrl-C stops it"
  exec python "$ODOO/odoo-bin" -c "$CONF" -d "$DB" --db-filter="^$DB\$" --http-port="$HTTP_PORT" "$@"
}

# Export the terms to i18n/erplibre_devops.pot (from the test database, installed by
# "test" or "odoo-test") and merge them into i18n/fr.po (msgmerge, from gettext).
cmd_i18n() {
  setup
  db_exists "$TEST_DB" || die "Run 'scripts/dev.sh odoo-test' first: the terms come from $TEST_DB."
  python "$ODOO/odoo-bin" -c "$CONF" -d "$TEST_DB" --i18n-export="$HERE/i18n/$MODULE.pot" \
    --modules="$MODULE" --stop-after-init --log-level=warn
  if command -v msgmerge >/dev/null; then
    msgmerge --quiet --update --no-fuzzy-matching --backup=none "$HERE/i18n/fr.po" "$HERE/i18n/$MODULE.pot"
    msgattrib --no-obsolete --output-file="$HERE/i18n/fr.po" "$HERE/i18n/fr.po"
  else
    say "msgmerge not found (apt-get install gettext): i18n/fr.po was not merged."
  fi
  say "Updated i18n/$MODULE.pot; untranslated entries of fr.po: $(grep -c '^msgstr ""$' "$HERE/i18n/fr.po" || true)"
}

cmd_shell() {
  setup
  exec python "$ODOO/odoo-bin" shell -c "$CONF" -d "$DB" --no-http
}

cmd_lint() {
  [ -n "${VENV:-}" ] || {
    find_odoo
    ensure_venv
  }
  cd "$HERE"
  LINT_RESULT=ok
  say "ruff check"
  ruff check --quiet . || {
    say "ruff check failed (ruff check --fix . mends most)"
    LINT_RESULT=failed
  }
  say "ruff format --check"
  ruff format --check --quiet . || {
    say "ruff format failed (run: ruff format .)"
    LINT_RESULT=failed
  }
  say "pylint-odoo"
  local files
  files=$(git ls-files --cached --others --exclude-standard '*.py' 2>/dev/null || true)
  [ -n "$files" ] || files=$(find . -name '*.py' -not -path './.work/*')
  # shellcheck disable=SC2086
  pylint --rcfile=.pylintrc $files || {
    say "pylint-odoo failed"
    LINT_RESULT=failed
  }
  [ "$LINT_RESULT" = ok ]
}

# Engine tests: counts go to ENGINE_PASSED/FAILED/SKIPPED.
cmd_pytest() {
  cd "$HERE"
  local xml=$WORK/logs/engine-junit.xml rc=0
  mkdir -p "$WORK/logs"
  say "pytest engine/tests"
  python -m pytest engine/tests -q -rs --junitxml="$xml" "$@" || rc=$?
  [ "$rc" = 5 ] && die "pytest collected no engine test"
  read -r ENGINE_TOTAL ENGINE_FAILED ENGINE_SKIPPED < <(python - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
total = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(total, failed, skipped)
PY
  )
  ENGINE_PASSED=$((ENGINE_TOTAL - ENGINE_FAILED - ENGINE_SKIPPED))
  [ "$rc" = 0 ] || [ "$ENGINE_FAILED" -gt 0 ] || ENGINE_FAILED=1
}

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Odoo tests on a fresh database: base and web first, then the addon with its tests.
cmd_odoo_test() {
  local tags=${1:-/$MODULE} log=$WORK/logs/odoo-test.log base_log=$WORK/logs/odoo-base.log port
  port=$(free_port)
  psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$TEST_DB\"" 2>/dev/null
  rm -rf "$WORK/data/filestore/$TEST_DB"
  say "Odoo: installing base and web in $TEST_DB (log: $base_log)"
  odoo_bin -d "$TEST_DB" -i base,web --stop-after-init --http-port="$port" >"$base_log" 2>&1 ||
    die "installing base and web failed: see $base_log"
  say "Odoo: installing $MODULE with --test-tags $tags (log: $log)"
  local rc=0
  odoo_bin -d "$TEST_DB" -i "$MODULE" --test-enable --test-tags "$tags" --stop-after-init \
    --log-level=test --http-port="$port" >"$log" 2>&1 || rc=$?
  read -r ODOO_RUN ODOO_FAILED ODOO_SKIPPED ODOO_ERRLINES < <(python - "$base_log" "$log" <<'PY'
import re
import sys
run = failed = skipped = errlines = 0
level = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (ERROR|CRITICAL) ")
summary = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
skip = re.compile(r"^\S+ \S+ \d+ INFO \S+ odoo\.addons\.\w+\.tests\.\S+: skipped ")
for path in sys.argv[1:]:
    for line in open(path, encoding="utf-8", errors="replace"):
        if level.match(line):
            errlines += 1
        if skip.match(line):
            skipped += 1
        m = summary.search(line)
        if m:
            failed += int(m.group(1)) + int(m.group(2))
            run += int(m.group(3))
print(run, failed, skipped, errlines)
PY
  )
  ODOO_PASSED=$((ODOO_RUN - ODOO_FAILED - ODOO_SKIPPED))
  [ "$ODOO_PASSED" -ge 0 ] || ODOO_PASSED=0
  if [ "$ODOO_ERRLINES" -gt 0 ]; then
    say "ERROR/CRITICAL lines logged by Odoo:"
    grep -hE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$base_log" "$log" | head -20 >&2
  fi
  if [ "$ODOO_SKIPPED" -gt 0 ]; then
    say "Skipped Odoo tests:"
    grep -hE ' INFO \S+ odoo\.addons\.\w+\.tests\.\S+: skipped ' "$log" >&2
  fi
  if [ "$rc" != 0 ] && [ "$ODOO_FAILED" = 0 ]; then ODOO_FAILED=1; fi
  if [ "$ODOO_RUN" = 0 ]; then
    say "No Odoo test ran: see $log"
    ODOO_FAILED=$((ODOO_FAILED + 1))
  fi
}

cmd_test() {
  local start=$SECONDS
  setup
  cmd_lint || true
  cmd_pytest
  cmd_odoo_test "$@"
  local passed=$((ENGINE_PASSED + ODOO_PASSED)) failed=$((ENGINE_FAILED + ODOO_FAILED))
  local skipped=$((ENGINE_SKIPPED + ODOO_SKIPPED)) verdict=ok
  echo
  echo "lint: $LINT_RESULT"
  echo "engine (pytest): $ENGINE_PASSED passed, $ENGINE_FAILED failed, $ENGINE_SKIPPED skipped"
  echo "odoo: $ODOO_PASSED passed, $ODOO_FAILED failed, $ODOO_SKIPPED skipped, $ODOO_ERRLINES ERROR lines logged"
  echo "time: $((SECONDS - start)) s"
  [ "$LINT_RESULT" = ok ] || failed=$((failed + 1))
  [ "$failed" -gt 0 ] && verdict=failed
  [ "$ODOO_ERRLINES" -gt 0 ] && verdict=failed
  if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
    echo "CI: a skipped test is a failure (the browser test must run)"
    verdict=failed
    failed=$((failed + skipped))
  fi
  [ "$verdict" = failed ] && [ "$failed" = 0 ] && failed=1
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  [ "$verdict" = ok ]
}

case "${1:-}" in
run) cmd_run ;;
test)
  shift
  cmd_test "$@"
  ;;
lint)
  find_odoo
  ensure_venv
  cmd_lint
  ;;
pytest)
  shift
  find_odoo
  ensure_venv
  cmd_pytest "$@"
  echo "engine: $ENGINE_PASSED passed, $ENGINE_FAILED failed, $ENGINE_SKIPPED skipped"
  [ "$ENGINE_FAILED" = 0 ]
  ;;
odoo-test)
  shift
  setup
  cmd_odoo_test "$@"
  echo "odoo: $ODOO_PASSED passed, $ODOO_FAILED failed, $ODOO_SKIPPED skipped, $ODOO_ERRLINES ERROR lines logged"
  [ "$ODOO_FAILED" = 0 ] && [ "$ODOO_ERRLINES" = 0 ]
  ;;
shell) cmd_shell ;;
bench)
  find_odoo
  ensure_venv
  python "$HERE/benchmarks/engine_bench.py"
  ;;
i18n) cmd_i18n ;;
stop) stop_pg ;;
*)
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
