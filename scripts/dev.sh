#!/usr/bin/env bash
# Developer entry point of erplibre_devops: run the app, run every test.
#
#   scripts/dev.sh run      Odoo 18 with the addon at http://localhost:8069 (admin/admin)
#   scripts/dev.sh test     lint, engine tests (pytest), Odoo tests (incl. the browser test)
#   scripts/dev.sh lint     ruff check, ruff format --check, pylint-odoo
#   scripts/dev.sh pytest [ARGS]    the engine tests alone, ARGS passed to pytest
#   scripts/dev.sh odoo-test [TAGS] the Odoo tests alone (default tags: /erplibre_devops)
#   scripts/dev.sh shell    an Odoo shell on the app database
#   scripts/dev.sh rekey    re-encrypt the app database's secrets under a new key
#   scripts/dev.sh i18n     export i18n/erplibre_devops.pot and merge it into i18n/fr.po
#   scripts/dev.sh bench    the engine benchmarks (benchmarks/engine_bench.py)
#   scripts/dev.sh stop     stop this checkout's Odoo servers and its PostgreSQL cluster
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

# --- Locks on the shared cache ---------------------------------------------------------
# The cache (virtualenv, Odoo clone, addons link) is shared by every checkout and every
# command: two first runs at once (two CI jobs, two clones, run and test together) would
# build the same directory under each other. cache_lock NAME WHAT takes an exclusive lock
# on $CACHE/NAME.lock (flock, from util-linux) on fd 9, waiting for the holder; the caller
# then checks again whether the work is still to do. A process that dies drops its lock.
cache_lock() {
  mkdir -p "$CACHE"
  command -v flock >/dev/null || return 0
  exec 9>"$CACHE/$1.lock"
  flock --nonblock 9 && return 0
  say "waiting for another dev.sh $2 (lock: $CACHE/$1.lock)"
  flock --wait 3600 9 ||
    die "still locked after an hour: the dev.sh holding $CACHE/$1.lock is stuck (fuser -v $CACHE/$1.lock shows it; stop it)."
}
cache_unlock() {
  command -v flock >/dev/null || return 0
  flock --unlock 9
  exec 9>&-
}

# --- Progress of long silent steps -------------------------------------------------------
# start_reporter LABEL FILE FUNCTION prints "LABEL: N s, <FUNCTION FILE>" every 15 s, from
# the background, until stop_reporter: the long command itself stays in the foreground, so
# its exit code and Ctrl-C work as before. The reporter also ends when the script is gone.
REPORTER=
start_reporter() {
  local label=$1 file=$2 fn=$3 start=$SECONDS parent=$$
  (
    next=$((start + 15))
    while sleep 1 && kill -0 "$parent" 2>/dev/null; do
      if [ "$SECONDS" -ge "$next" ]; then
        say "$label: $((SECONDS - start)) s, $("$fn" "$file")"
        next=$((next + 15))
      fi
    done
  ) 9>&- &
  REPORTER=$!
  trap stop_reporter EXIT
}
stop_reporter() {
  if [ -n "$REPORTER" ]; then
    kill "$REPORTER" 2>/dev/null || true
    wait "$REPORTER" 2>/dev/null || true
    REPORTER=
  fi
  trap - EXIT
}

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
    cache_lock odoo-18.0 "cloning Odoo 18.0 into $CACHE/odoo-18.0"
    if [ ! -f "$CACHE/odoo-18.0/odoo-bin" ]; then
      say "No Odoo 18 tree in \$ODOO_SRC or /opt/odoo/18.0: cloning Odoo 18.0 (shallow) into $CACHE/odoo-18.0"
      rm -rf "$CACHE/odoo-18.0.tmp"
      timeout 900 git clone --quiet --depth 1 --branch 18.0 https://github.com/odoo/odoo.git "$CACHE/odoo-18.0.tmp" ||
        die "Odoo 18 not found and the clone failed: set ODOO_SRC to an Odoo 18 source tree."
      mv "$CACHE/odoo-18.0.tmp" "$CACHE/odoo-18.0"
    fi
    cache_unlock
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
    echo "recipe 2" # bump when create_venv changes what it installs
  ) | sha)
  VENV=$CACHE/venv-$key
  if [ ! -f "$VENV/.complete" ]; then
    cache_lock "venv-$key" "creating the virtualenv $VENV"
    # The other dev.sh we waited for has most likely just completed it.
    [ -f "$VENV/.complete" ] || create_venv
    cache_unlock
  fi
  export PATH="$VENV/bin:$PATH"
}

# Count what pip has installed so far: the progress of a step of create_venv.
# shellcheck disable=SC2317 # called through start_reporter
venv_progress() {
  printf '%s packages installed' "$(find "$1/lib" -maxdepth 3 -name '*.dist-info' -type d 2>/dev/null | wc -l)"
}

# Called with the lock held. Three steps, each reported, as pip --quiet prints nothing for
# minutes; the Odoo requirements go again with the addon's so that pip resolves them
# together (an addon requirement conflicting with an Odoo pin fails, as it did in one step).
create_venv() {
  local start=$SECONDS t1 t2 t3
  say "Creating the virtualenv $VENV (Odoo's and the addon's requirements; a few minutes once)"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" || die "'$PYTHON -m venv' failed: install python3-venv."
  # Inside the virtualenv: concurrent creations of other virtualenvs do not share them.
  local constraint=$VENV/constraints.txt req=$VENV/odoo-requirements.txt
  # Some of Odoo's pinned source packages still import pkg_resources (setuptools < 70).
  # zope.interface >= 7 and zope.event >= 5.1 ship normalized dist-info names that this old
  # pkg_resources cannot find: gevent (Odoo's long-polling process under --workers) then dies.
  printf '%s\n' 'setuptools<70' 'zope.interface<7' 'zope.event<5.1' >"$constraint"
  # python-ldap needs LDAP headers and only serves auth_ldap, which this tree never loads.
  grep -v '^python-ldap' "$ODOO/requirements.txt" >"$req"
  # pip >= 25.3 applies constraints to build environments only through PIP_BUILD_CONSTRAINT.
  export PIP_CONSTRAINT=$constraint PIP_BUILD_CONSTRAINT=$constraint
  say "virtualenv 1/3: upgrading pip, setuptools, wheel"
  t1=$SECONDS
  "$VENV/bin/pip" install --quiet --upgrade pip 'setuptools<70' wheel ||
    die "pip could not upgrade itself in $VENV (see above)."
  t1=$((SECONDS - t1))
  say "virtualenv 2/3: Odoo's requirements ($ODOO/requirements.txt)"
  t2=$SECONDS
  start_reporter "virtualenv 2/3 (Odoo's requirements)" "$VENV" venv_progress
  "$VENV/bin/pip" install --quiet -r "$req" ||
    die "pip could not install Odoo's requirements (see above)."
  stop_reporter
  t2=$((SECONDS - t2))
  say "virtualenv 3/3: the addon's requirements (requirements.txt, requirements-dev.txt)"
  t3=$SECONDS
  start_reporter "virtualenv 3/3 (the addon's requirements)" "$VENV" venv_progress
  "$VENV/bin/pip" install --quiet -r "$req" \
    -r "$HERE/requirements.txt" -r "$HERE/requirements-dev.txt" ||
    die "pip could not install the addon's requirements (see above)."
  stop_reporter
  t3=$((SECONDS - t3))
  touch "$VENV/.complete"
  say "Virtualenv ready in $((SECONDS - start)) s (pip $t1 s, Odoo's requirements $t2 s, the addon's $t3 s)"
}

# --- The addons path: a link named erplibre_devops to this checkout ----------------
ensure_addons_link() {
  LINKS=$CACHE/addons-$(printf '%s' "$HERE" | sha)
  # A right link is left alone. Otherwise under a lock: two commands started at once from
  # this checkout would both run ln -sfn, which removes the link then creates it, and the
  # second creation fails with "File exists".
  if [ "$(readlink "$LINKS/$MODULE" 2>/dev/null)" != "$HERE" ]; then
    cache_lock "${LINKS##*/}" "creating the addons link $LINKS/$MODULE"
    mkdir -p "$LINKS"
    [ "$(readlink "$LINKS/$MODULE" 2>/dev/null)" = "$HERE" ] || ln -sfn "$HERE" "$LINKS/$MODULE"
    cache_unlock
  fi
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

stop_odoo() {
  # The Odoo servers of this checkout (run, odoo-test) first: PostgreSQL stops under none.
  local pids
  pids=$(pgrep -f -- "odoo-bin .*-c $WORK/odoo.conf" || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  local i
  for i in $(seq 1 20); do
    pgrep -f -- "odoo-bin .*-c $WORK/odoo.conf" >/dev/null || {
      say "Odoo stopped"
      return 0
    }
    sleep 0.5
  done
  say "Odoo is still stopping after 10 s (pids: ${pids//$'\n'/ }); PostgreSQL stops under it"
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

# Whether 127.0.0.1:$1 is taken. Odoo binds its port only after loading the registry,
# and a taken one ends in a raw traceback: try the same bind first (SO_REUSEADDR, as
# Odoo's server does: a port left in TIME_WAIT is free, one in use by any process is not).
port_taken() {
  "$PYTHON" - "$1" <<'PY'
import errno, socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError as e:
    sys.exit(0 if e.errno == errno.EADDRINUSE else 1)
sys.exit(1)
PY
}

check_http_port() {
  if ! [[ $HTTP_PORT =~ ^[1-9][0-9]{0,4}$ ]] || [ "$HTTP_PORT" -lt 1 ] || [ "$HTTP_PORT" -gt 65535 ]; then
    die "HTTP_PORT=$HTTP_PORT is not a port number (e.g. HTTP_PORT=8070 scripts/dev.sh run)."
  fi
  port_taken "$HTTP_PORT" || return 0
  local holder="" other=$((HTTP_PORT + 1))
  # ss names the holder (for another user's process only when run as root).
  command -v ss >/dev/null && holder=$(ss -Hltnp "sport = :$HTTP_PORT" 2>/dev/null |
    sed -nE 's/.*users:\(\("([^"]+)",pid=([0-9]+).*/\1 (pid \2)/p' | head -1 || true)
  while [ "$other" -lt $((HTTP_PORT + 50)) ] && port_taken "$other"; do other=$((other + 1)); done
  die "Port $HTTP_PORT on 127.0.0.1 is taken${holder:+ by $holder} (another Odoo, or another 'scripts/dev.sh run'?): stop it, or set HTTP_PORT to a free port, e.g. HTTP_PORT=$other scripts/dev.sh run"
}

cmd_run() {
  # Before setup, whose first run takes minutes; and again before Odoo starts, below.
  check_http_port
  setup
  if db_exists "$DB"; then
    say "Updating $MODULE in the database $DB"
    set -- -u "$MODULE"
  else
    say "First run: creating the database $DB with $MODULE installed"
    set -- -i "$MODULE"
  fi
  check_http_port
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

# Re-encrypt the secrets of the app database under a new key (see README, Secrets at rest).
# Odoo finds an addon's command before it reads the configuration: addons path first.
cmd_rekey() {
  setup
  db_exists "$DB" || die "No database $DB: run 'scripts/dev.sh run' first."
  exec python "$ODOO/odoo-bin" --addons-path="$ADDONS_PATH" devops_rekey -c "$CONF" -d "$DB"
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

# Whether the --test-tags value $1 selects the container tests (TestInstance,
# TestInstanceSSH, TestInstanceDocker): a positive tag naming no test class selects them all.
tags_need_docker() {
  local tag class
  local -a list
  IFS=, read -ra list <<<"$1"
  for tag in "${list[@]}"; do
    [[ $tag == -* ]] && continue
    [[ $tag == *:* ]] || return 0
    class=${tag#*:}
    class=${class%%[.[]*}
    [[ -z $class || $class == *Instance* ]] && return 0
  done
  return 1
}

# The container tests build an image FROM scratch holding Debian's static busybox and run it
# on a real Docker engine (and the docker command): without one they fail minutes later,
# deep in the docker library. Check first, and say how to get them.
check_container_tools() {
  local err busybox
  command -v docker >/dev/null ||
    die "The container tests need Docker: apt-get install docker.io, then start the engine (as root: dockerd &, or sudo systemctl start docker); or run .ci/run, which installs and starts it."
  if ! err=$(timeout 60 docker info 2>&1 >/dev/null); then
    err=$(printf '%s\n' "$err" | grep -v '^\s*$' | tail -1)
    case $err in
    *"permission denied"*)
      die "The container tests need the Docker engine, which refuses you ($err): run as root, or add yourself to the docker group (sudo usermod -aG docker \$USER, then log in again)." ;;
    esac
    die "The container tests need a running Docker engine, and none answers (docker info: ${err:-timed out}): start it (as root: dockerd >/tmp/dockerd.log 2>&1 &, or sudo systemctl start docker), or run .ci/run, which starts it."
  fi
  busybox=$(command -v busybox || echo /bin/busybox)
  [ -x "$busybox" ] ||
    die "The container tests copy the static busybox (/bin/busybox) into their image: apt-get install busybox-static (or run .ci/run, which installs it)."
  # Their image is FROM scratch: no libc in it for a dynamically linked busybox to load.
  if command -v ldd >/dev/null && ldd "$busybox" 2>/dev/null | grep -q '=>'; then
    die "$busybox is dynamically linked (Debian's busybox package), and the container tests' image is FROM scratch: apt-get install busybox-static."
  fi
}

free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Progress of an Odoo install, from its log: the module being loaded and its last data file.
# shellcheck disable=SC2317 # called through start_reporter
install_progress() {
  local module file
  module=$(grep -oE 'Loading module [a-z0-9_]+ \([0-9]+/[0-9]+\)' "$1" | tail -1 || true)
  file=$(grep -oE 'odoo\.modules\.loading: loading [a-z0-9_]+/[^ ]+' "$1" | tail -1 || true)
  module=${module#Loading }
  printf '%s' "${module:-starting}${file:+, ${file#odoo.modules.loading: }}"
}

# Progress of the Odoo tests, from their log: tests started so far, the one running, and
# the ERROR lines so far (a failing test logs one); before the first test, the install's.
# shellcheck disable=SC2317 # called through start_reporter
test_progress() {
  local started last errors
  started=$(grep -cE " INFO .* odoo\.addons\.$MODULE\.tests\.\S+: Starting " "$1" || true)
  if [ "${started:-0}" = 0 ]; then
    printf 'installing %s: %s' "$MODULE" "$(install_progress "$1")"
    return
  fi
  last=$(grep -oE " odoo\.addons\.$MODULE\.tests\.\S+: Starting [^ ]+" "$1" | tail -1 || true)
  errors=$(grep -cE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$1" || true)
  printf '%s tests started, now %s' "$started" "${last##* }"
  [ "${errors:-0}" = 0 ] || printf ', %s ERROR lines so far' "$errors"
}

# Odoo tests on a fresh database: base and web first, then the addon with its tests.
cmd_odoo_test() {
  local tags=${1:-/$MODULE} log=$WORK/logs/odoo-test.log base_log=$WORK/logs/odoo-base.log port
  port=$(free_port)
  psql -q -d postgres -c "DROP DATABASE IF EXISTS \"$TEST_DB\"" 2>/dev/null
  rm -rf "$WORK/data/filestore/$TEST_DB"
  local start=$SECONDS
  say "Odoo: installing base and web in $TEST_DB (log: $base_log; under a minute)"
  start_reporter "Odoo: installing base and web" "$base_log" install_progress
  odoo_bin -d "$TEST_DB" -i base,web --stop-after-init --http-port="$port" >"$base_log" 2>&1 ||
    die "installing base and web failed: see $base_log"
  stop_reporter
  say "Odoo: base and web installed in $((SECONDS - start)) s"
  say "Odoo: installing $MODULE with --test-tags $tags (log: $log; 2-3 minutes)"
  local rc=0 warnings=$WORK/logs/odoo-addon-warnings.log
  start=$SECONDS
  start_reporter "Odoo tests" "$log" test_progress
  odoo_bin -d "$TEST_DB" -i "$MODULE" --test-enable --test-tags "$tags" --stop-after-init \
    --log-level=test --http-port="$port" >"$log" 2>&1 || rc=$?
  stop_reporter
  say "Odoo: tests done in $((SECONDS - start)) s"
  # WARNING lines count as failures when they are the addon's: logged by its code or tests
  # (loggers odoo.addons.erplibre_devops.*, which include the browser console of its
  # browser tests: console.warn becomes a WARNING of <test logger>.browser), logged by Odoo
  # about it (a message naming erplibre_devops or one of its devops.* models, e.g. "Two
  # fields (...) of devops.workspace() have the same label"), or logged by Odoo's test
  # machinery (odoo.tests.*) while one of its tests runs. Odoo's warnings about itself or
  # other modules do not count. They are written, one line each, to $warnings.
  read -r ODOO_RUN ODOO_FAILED ODOO_SKIPPED ODOO_ERRLINES ODOO_WARNLINES < <(python - "$warnings" "$base_log" "$log" <<'PY'
import re
import sys
run = failed = skipped = errlines = 0
stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ "
level = re.compile(stamp + r"(ERROR|CRITICAL) ")
warning = re.compile(stamp + r"WARNING \S+ (\S+): (.*)")
starting = re.compile(stamp + r"INFO \S+ (odoo\.addons\.\w+)\.tests\.\S+: Starting ")
ours = "odoo.addons.erplibre_devops"
about_us = re.compile(r"erplibre_devops|(?<![\w./-])devops\.[a-z]")  # not a host devops.example
summary = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
skip = re.compile(r"^\S+ \S+ \d+ INFO \S+ odoo\.addons\.\w+\.tests\.\S+: skipped ")
warnings = []
for path in sys.argv[2:]:
    testing = None  # the module whose test runs, from its last "Starting" line
    for line in open(path, encoding="utf-8", errors="replace"):
        if level.match(line):
            errlines += 1
        m = starting.match(line)
        if m:
            testing = m.group(1)
        m = warning.match(line)
        if m:
            logger, message = m.groups()
            if (
                logger == ours
                or logger.startswith(ours + ".")
                or about_us.search(message)
                or (logger.startswith("odoo.tests") and testing == ours)
            ):
                warnings.append(line.rstrip("\n"))
        if skip.match(line):
            skipped += 1
        m = summary.search(line)
        if m:
            failed += int(m.group(1)) + int(m.group(2))
            run += int(m.group(3))
            testing = None
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.writelines(w + "\n" for w in warnings)
print(run, failed, skipped, errlines, len(warnings))
PY
  ) || die "could not read the Odoo logs $base_log and $log"
  ODOO_PASSED=$((ODOO_RUN - ODOO_FAILED - ODOO_SKIPPED))
  [ "$ODOO_PASSED" -ge 0 ] || ODOO_PASSED=0
  if [ "$ODOO_ERRLINES" -gt 0 ]; then
    say "ERROR/CRITICAL lines logged by Odoo:"
    grep -hE '^[0-9-]+ [0-9:,]+ [0-9]+ (ERROR|CRITICAL) ' "$base_log" "$log" | head -20 >&2
  fi
  if [ "$ODOO_WARNLINES" -gt 0 ]; then
    say "WARNING lines logged by the addon (all in $warnings):"
    head -20 "$warnings" >&2
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
  if tags_need_docker "${1:-/$MODULE}"; then check_container_tools; fi
  setup
  cmd_lint || true
  cmd_pytest
  cmd_odoo_test "$@"
  local passed=$((ENGINE_PASSED + ODOO_PASSED)) failed=$((ENGINE_FAILED + ODOO_FAILED))
  local skipped=$((ENGINE_SKIPPED + ODOO_SKIPPED)) verdict=ok
  echo
  echo "lint: $LINT_RESULT"
  echo "engine (pytest): $ENGINE_PASSED passed, $ENGINE_FAILED failed, $ENGINE_SKIPPED skipped"
  echo "odoo: $ODOO_PASSED passed, $ODOO_FAILED failed, $ODOO_SKIPPED skipped, $ODOO_ERRLINES ERROR lines logged, $ODOO_WARNLINES addon WARNING lines"
  echo "time: $((SECONDS - start)) s"
  [ "$LINT_RESULT" = ok ] || failed=$((failed + 1))
  [ "$failed" -gt 0 ] && verdict=failed
  [ "$ODOO_ERRLINES" -gt 0 ] && verdict=failed
  [ "$ODOO_WARNLINES" -gt 0 ] && verdict=failed
  if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
    echo "CI: a skipped test is a failure (the browser test must run)"
    verdict=failed
    failed=$((failed + skipped))
  fi
  [ "$verdict" = failed ] && [ "$failed" = 0 ] && failed=1
  echo "tests: $passed passed, $failed failed, $skipped skipped"
  [ "$verdict" = ok ]
}

# In braces, with exit: bash reads a script as it runs it, so without them a dev.sh edited
# or switched by git during a long test run went on with whatever bytes it found next.
{
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
  if tags_need_docker "${1:-/$MODULE}"; then check_container_tools; fi
  setup
  cmd_odoo_test "$@"
  echo "odoo: $ODOO_PASSED passed, $ODOO_FAILED failed, $ODOO_SKIPPED skipped, $ODOO_ERRLINES ERROR lines logged, $ODOO_WARNLINES addon WARNING lines"
  [ "$ODOO_FAILED" = 0 ] && [ "$ODOO_ERRLINES" = 0 ] && [ "$ODOO_WARNLINES" = 0 ]
  ;;
shell) cmd_shell ;;
rekey) cmd_rekey ;;
bench)
  find_odoo
  ensure_venv
  python "$HERE/benchmarks/engine_bench.py"
  ;;
i18n) cmd_i18n ;;
stop)
  stop_odoo
  stop_pg
  ;;
*)
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
exit
}
