#!/usr/bin/env bash
# A real Elasticsearch node on 127.0.0.1 for tests, beside the OpenSearch of search.sh.
#
#   deploy/local/elasticsearch.sh install  fetch the distribution, compile the test plugin (cached)
#   deploy/local/elasticsearch.sh start    install if needed, start (idempotent), wait until ready;
#                                          prints HW_ELASTIC_URL=...
#   deploy/local/elasticsearch.sh start --secure
#                                          the same with x-pack security on (first start of a run
#                                          dir decides; see "Secure mode" below); also prints
#                                          HW_ELASTIC_CAFILE, HW_ELASTIC_USERNAME,
#                                          HW_ELASTIC_PASSWORD_FILE, HW_ELASTIC_API_KEY_FILE
#   deploy/local/elasticsearch.sh stop     stop the node this run dir started
#   deploy/local/elasticsearch.sh status   exit 0 and print the URL when the node answers
#   deploy/local/elasticsearch.sh purge    stop, then delete this run dir's state (data, logs)
#
# What runs: Elasticsearch's "integ-test-zip" distribution, the one runnable Elasticsearch
# that Maven Central serves (org.elasticsearch.distribution.integ-test-zip:elasticsearch:
# <ver>:zip, fetched with mvn into ~/.m2). It has no bundled JDK, no rest-root module (no
# GET /), no analysis-common module and no ILM. deploy/local/elasticsearch/plugin is a small
# test-tooling plugin, compiled here once with the JDK's javac against the distribution's
# lib/, that adds GET / and the analysis types hybridwatch's index templates use (mapping
# char filter, pattern tokenizer, asciifolding filter, english analyzer) from the Lucene
# classes already in lib/. ILM stays missing: the store then installs no retention policy
# (as on the assembled OpenSearch node, which has no ISM). See docs/search.md.
#
# Elasticsearch refuses to run as root. When started by root the node runs as an
# unprivileged user (HW_ELASTIC_USER, default nobody:nogroup) through setpriv, so everything
# it reads or writes lives under /var/tmp/hybridwatch (root's ~/.cache is not readable by
# others): the unpacked home (read-only for the node) and, per run dir, a state dir with
# its config, data, logs and temp files (owned by that user). The run dir itself
# ($HW_SERVICES_DIR/elasticsearch) keeps only pid, port and the state dir's path.
#
# Secure mode (--secure; for tests of the store's TLS/auth settings, nothing here is fit for
# production): the integ-test-zip ships x-pack-core and x-pack-security, which run on the
# self-generated basic license. On the first secure start of a run dir, openssl makes a
# throw-away CA and a node certificate for 127.0.0.1/localhost in $RUN_DIR/tls (ca.pem is
# what clients trust); the node serves HTTPS only (xpack.security.http.ssl) and wants
# credentials on every request. One file-realm user, `hybridwatch` (role hybridwatch_writer:
# monitor, index templates, own API keys, all index privileges), gets a random password
# written to $RUN_DIR/tls/password (mode 600, never printed; elasticsearch-users reads it
# from stdin, so it is in no command line). Once the node is up an API key is created for
# that user through the API (POST /_security/api_key) and its encoded form written to
# $RUN_DIR/tls/api-key. Transport stays plain (single node, loopback).
#
# Environment (all optional):
#   HW_ELASTIC_VERSION    Elasticsearch version (default 9.5.3: elasticsearch-py 9.x's major)
#   HW_ELASTIC_JAVA_HOME  JDK to compile the plugin and run the node (default: a JDK 21+,
#                         /usr/lib/jvm/temurin-25-jdk-amd64 first)
#   HW_ELASTIC_HOME       unpacked distribution (default /var/tmp/hybridwatch/elasticsearch-<ver>-<plugin hash>)
#   HW_ELASTIC_STATE_DIR  the node's config/data/logs (default /var/tmp/hybridwatch/es-state/<hash of run dir>)
#   HW_ELASTIC_USER       user:group the node runs as when started by root (default nobody:nogroup)
#   HW_SERVICES_DIR       run dirs root (default <repo>/.hybridwatch/services)
#   HW_ELASTIC_PORT       HTTP port (default: a random free port, kept across restarts)
#   HW_ELASTIC_HEAP       heap size (default 512m)
#   HW_ELASTIC_TIMEOUT    seconds to wait for readiness (default 180)
set -euo pipefail
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_root="$(cd "$_here/../.." && pwd)"
_tpl="$_here/elasticsearch"

VERSION="${HW_ELASTIC_VERSION:-9.5.3}"
CACHE="${HOME}/.cache/hybridwatch"
SHARED="/var/tmp/hybridwatch"
PLUGIN_NAME="hw-test-tooling"
PLUGIN_SRC="$_tpl/plugin/src/hybridwatch/testtooling/TestToolingPlugin.java"
PLUGIN_KEY="$(sha1sum "$PLUGIN_SRC" | cut -c1-12)"
# one home per plugin source version: a running node keeps its home when the plugin changes
ES_HOME="${HW_ELASTIC_HOME:-$SHARED/elasticsearch-$VERSION-$PLUGIN_KEY}"
RUN_DIR="${HW_SERVICES_DIR:-$_root/.hybridwatch/services}/elasticsearch"
HEAP="${HW_ELASTIC_HEAP:-512m}"
TIMEOUT="${HW_ELASTIC_TIMEOUT:-180}"
RUN_AS="${HW_ELASTIC_USER:-nobody:nogroup}"
SECURE_USER="hybridwatch"

CMD="${1:-}"
SECURE=""
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
  case "$1" in
    --secure) SECURE=1 ;;
    *) echo "elasticsearch.sh: error: unknown argument '$1' (usage: $0 install|start [--secure]|stop|status|purge)" >&2; exit 2 ;;
  esac
  shift
done
# a run dir started secure once stays secure (its clients hold its CA and password)
[ -f "$RUN_DIR/tls/.secure" ] && SECURE=1

log() { echo "elasticsearch.sh: $*" >&2; }
die() { echo "elasticsearch.sh: error: $*" >&2; exit 1; }

find_jdk() { # a JDK home (java + javac) of version 21 or newer
  local cand
  for cand in "${HW_ELASTIC_JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/java-25-openjdk-amd64 \
              /usr/lib/jvm/java-21-openjdk-amd64 /usr/lib/jvm/temurin-21-jdk-amd64 "${JAVA_HOME:-}"; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ] || continue
    if "$cand/bin/java" -version 2>&1 | grep -qE 'version "(2[1-9]|[3-9][0-9])[."]'; then
      echo "$cand"; return 0
    fi
  done
  die "Elasticsearch $VERSION needs a JDK 21+ (java and javac); none found. Set HW_ELASTIC_JAVA_HOME."
}

_state_dir() {
  if [ -n "${HW_ELASTIC_STATE_DIR:-}" ]; then echo "$HW_ELASTIC_STATE_DIR"; return; fi
  mkdir -p "$RUN_DIR"
  echo "$SHARED/es-state/$(cd "$RUN_DIR" && pwd -P | sha1sum | cut -c1-16)"
}
STATE="$(_state_dir)"

# --- install ----------------------------------------------------------------------------

_build_plugin() { # $1 = unpacked home -> prints the plugin folder (cached in ~/.cache/hybridwatch)
  local home="$1" jdk key out classes
  jdk="$(find_jdk)"
  key="$PLUGIN_KEY"
  out="$CACHE/es-test-plugin-$VERSION-$key"
  if [ ! -f "$out/.complete" ]; then
    log "compiling the test-tooling plugin against $home/lib (first run only)"
    rm -rf "$out.tmp"
    classes="$out.tmp/classes"
    mkdir -p "$classes"
    "$jdk/bin/javac" --release 21 -proc:none -nowarn -d "$classes" -cp "$home/lib/*" "$PLUGIN_SRC" >&2 \
      || die "javac failed on $PLUGIN_SRC"
    "$jdk/bin/jar" --create --file "$out.tmp/$PLUGIN_NAME.jar" -C "$classes" . >&2
    rm -rf "$classes"
    cat > "$out.tmp/plugin-descriptor.properties" <<DESC
description=hybridwatch test tooling: GET / and the analysis types of the index templates (not product code)
version=$VERSION
name=$PLUGIN_NAME
classname=hybridwatch.testtooling.TestToolingPlugin
java.version=21
elasticsearch.version=$VERSION
extended.plugins=
has.native.controller=false
DESC
    rm -rf "$out"
    mv "$out.tmp" "$out"
    touch "$out/.complete"
  fi
  echo "$out"
}

install() {
  local key="$PLUGIN_KEY"
  if [ -f "$ES_HOME/.complete-$key" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch Elasticsearch from Maven Central: apt-get install maven"
  command -v unzip >/dev/null || die "unzip is needed to unpack Elasticsearch: apt-get install unzip"
  mkdir -p "$CACHE" "$SHARED"
  chmod 755 "$SHARED"
  exec 9>"$CACHE/.elasticsearch-$VERSION.lock"
  flock 9
  if [ -f "$ES_HOME/.complete-$key" ]; then return 0; fi   # another installer finished first
  local coord="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$VERSION:zip"
  local zip="$HOME/.m2/repository/org/elasticsearch/distribution/integ-test-zip/elasticsearch/$VERSION/elasticsearch-$VERSION.zip"
  if [ ! -f "$zip" ]; then
    log "fetching $coord from Maven Central (first run only)"
    mvn -B -q dependency:get -Dartifact="$coord" -Dtransitive=false >"$CACHE/.elasticsearch-fetch.log" 2>&1 \
      || { tail -n 30 "$CACHE/.elasticsearch-fetch.log" >&2; die "cannot fetch $coord"; }
  fi
  local tmp="$ES_HOME.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  unzip -q "$zip" -d "$tmp"
  [ -x "$tmp/elasticsearch-$VERSION/bin/elasticsearch" ] || die "unexpected layout in $zip"
  local plugin
  plugin="$(_build_plugin "$tmp/elasticsearch-$VERSION")"
  mkdir -p "$tmp/elasticsearch-$VERSION/plugins/$PLUGIN_NAME"
  cp "$plugin/$PLUGIN_NAME.jar" "$plugin/plugin-descriptor.properties" "$tmp/elasticsearch-$VERSION/plugins/$PLUGIN_NAME/"
  {
    echo "engine=elasticsearch"
    echo "version=$VERSION"
    echo "source=Maven Central: $coord + plugin $PLUGIN_NAME compiled from deploy/local/elasticsearch/plugin ($key)"
    echo "unpacked=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$tmp/elasticsearch-$VERSION/PROVENANCE"
  chmod -R a+rX "$tmp"
  rm -rf "$ES_HOME"
  mv "$tmp/elasticsearch-$VERSION" "$ES_HOME"
  rmdir "$tmp"
  touch "$ES_HOME/.complete-$key"
  log "Elasticsearch $VERSION unpacked in $ES_HOME with the $PLUGIN_NAME plugin"
}

# --- start / stop -------------------------------------------------------------------------

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_pid() { cat "$STATE/pid" 2>/dev/null || cat "$RUN_DIR/pid" 2>/dev/null; }

_alive() { # the pid's process is alive AND is the node of this state dir (pids get reused)
  local pid
  pid="$(_pid)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Djava.io.tmpdir=$STATE/tmp"
}

_scheme() { if [ -n "$SECURE" ]; then echo https; else echo http; fi; }

_curl() { # curl with the CA and the user's password (given on stdin as curl config, not argv)
  if [ -n "$SECURE" ]; then
    printf 'user = "%s:%s"\n' "$SECURE_USER" "$(cat "$RUN_DIR/tls/password")" \
      | curl -K - --cacert "$RUN_DIR/tls/ca.pem" "$@"
  else
    curl "$@"
  fi
}

_ready() { # $1 = port
  _curl -sf -m 5 "$(_scheme)://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}

_print_env() {
  echo "HW_ELASTIC_URL=$(_scheme)://127.0.0.1:$1"
  if [ -n "$SECURE" ]; then
    echo "HW_ELASTIC_CAFILE=$RUN_DIR/tls/ca.pem"
    echo "HW_ELASTIC_USERNAME=$SECURE_USER"
    echo "HW_ELASTIC_PASSWORD_FILE=$RUN_DIR/tls/password"
    echo "HW_ELASTIC_API_KEY_FILE=$RUN_DIR/tls/api-key"
  fi
}

# --- secure mode ------------------------------------------------------------------------

_tls_material() { # CA + node certificate + password in $RUN_DIR/tls (first secure start only)
  local t="$RUN_DIR/tls"
  [ -f "$t/.secure" ] && return 0
  command -v openssl >/dev/null || die "openssl is needed for --secure: apt-get install openssl"
  rm -rf "$t"
  mkdir -p "$t"
  chmod 700 "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hybridwatch test CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1 || die "openssl: could not make the test CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$t/node.key" -out "$t/node.csr" >/dev/null 2>&1 || die "openssl: could not make the node key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/san.ext"
  openssl x509 -req -in "$t/node.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 2 -extfile "$t/san.ext" -out "$t/node.crt" >/dev/null 2>&1 || die "openssl: could not sign the node certificate"
  (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$t/password")
  chmod 600 "$t/ca.key" "$t/node.key" "$t/password"
  chmod 644 "$t/ca.pem"
  touch "$t/.secure"
}

_secure_config() { # $1 = java home: security settings, certificates and the file-realm user
  local jdk="$1" t="$RUN_DIR/tls" conf="$STATE/config"
  mkdir -p "$conf/tls"
  cp "$t/node.key" "$t/node.crt" "$t/ca.pem" "$conf/tls/"
  sed -i -e 's/^xpack.security.enabled: false$/xpack.security.enabled: true/' "$conf/elasticsearch.yml"
  grep -qx 'xpack.security.enabled: true' "$conf/elasticsearch.yml" \
    || die "elasticsearch.yml.in lost its 'xpack.security.enabled: false' line (--secure rewrites it)"
  cat >> "$conf/elasticsearch.yml" <<'YML'
# --secure (deploy/local/elasticsearch.sh): HTTPS with a throw-away CA, passwords and API keys
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: tls/node.key
xpack.security.http.ssl.certificate: tls/node.crt
xpack.security.http.ssl.certificate_authorities: [ "tls/ca.pem" ]
xpack.security.authc.api_key.enabled: true
YML
  cat > "$conf/roles.yml" <<'YML'
# what hybridwatch's store needs, nothing of the security or cluster settings APIs
hybridwatch_writer:
  cluster: [monitor, manage_index_templates, manage_ilm, manage_own_api_key]
  indices:
    - names: ["*"]
      privileges: [all]
YML
  : > "$conf/users"
  : > "$conf/users_roles"
  # the password goes in on stdin (asked twice), never on a command line
  if ! printf '%s\n%s\n' "$(cat "$t/password")" "$(cat "$t/password")" \
      | env -i PATH=/usr/bin:/bin HOME="$STATE" ES_JAVA_HOME="$jdk" ES_PATH_CONF="$conf" \
        "$ES_HOME/bin/elasticsearch-users" useradd "$SECURE_USER" -r hybridwatch_writer \
        >"$RUN_DIR/users.log" 2>&1; then
    tail -n 20 "$RUN_DIR/users.log" >&2
    die "elasticsearch-users useradd failed (log: $RUN_DIR/users.log)"
  fi
  grep -q "^$SECURE_USER:" "$conf/users" || die "elasticsearch-users did not write $conf/users"
}

_api_key() { # $1 = port: an API key for the user, made once through the API
  local t="$RUN_DIR/tls" out
  [ -s "$t/api-key" ] && return 0
  out="$(_curl -sS -m 30 -X POST -H 'Content-Type: application/json' \
    "https://127.0.0.1:$1/_security/api_key" \
    -d '{"name":"hybridwatch-test","role_descriptors":{"hybridwatch_store":{"cluster":["monitor","manage_index_templates","manage_ilm"],"indices":[{"names":["*"],"privileges":["all"]}]}}}')" \
    || die "creating the API key failed"
  (umask 077; printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["encoded"], end="")' > "$t/api-key.tmp") \
    || die "unexpected answer to POST /_security/api_key (not printed: it may hold the key)"
  mv "$t/api-key.tmp" "$t/api-key"
}

start() {
  mkdir -p "$RUN_DIR"
  if _alive && [ -f "$RUN_DIR/port" ] && _ready "$(cat "$RUN_DIR/port")"; then
    log "already running (pid $(_pid)) on port $(cat "$RUN_DIR/port")"
    _print_env "$(cat "$RUN_DIR/port")"
    return 0
  fi
  if _alive; then
    log "a node from $RUN_DIR is running but not answering; stopping it first"
    stop
  fi
  install
  local jdk port tport
  jdk="$(find_jdk)"
  port="${HW_ELASTIC_PORT:-}"
  [ -n "$port" ] || { [ -f "$RUN_DIR/port" ] && port="$(cat "$RUN_DIR/port")"; } || true
  if [ -z "$port" ] || ! python3 -c "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
    [ -n "${HW_ELASTIC_PORT:-}" ] && die "port $HW_ELASTIC_PORT (HW_ELASTIC_PORT) is in use"
    port="$(_free_port)"
  fi
  tport="$(_free_port)"
  mkdir -p "$STATE/config" "$STATE/data" "$STATE/logs" "$STATE/tmp"
  chmod a+rx "$SHARED" "$(dirname "$STATE")" 2>/dev/null || true   # whatever the umask
  cp "$ES_HOME/config/jvm.options" "$ES_HOME/config/log4j2.properties" "$STATE/config/"
  mkdir -p "$STATE/config/jvm.options.d"
  sed -e "s|@HTTP_PORT@|$port|" -e "s|@TRANSPORT_PORT@|$tport|" -e "s|@STATE@|$STATE|g" \
      "$_tpl/elasticsearch.yml.in" > "$STATE/config/elasticsearch.yml"
  if [ -n "$SECURE" ]; then
    _tls_material
    _secure_config "$jdk"
  fi
  echo "$port" > "$RUN_DIR/port"
  echo "$STATE" > "$RUN_DIR/state_dir"
  rm -f "$STATE/pid" "$RUN_DIR/pid"
  local -a as_user=()
  if [ "$(id -u)" = 0 ]; then
    local user="${RUN_AS%%:*}" group="${RUN_AS#*:}"
    chown -R "$user:$group" "$STATE"
    as_user=(setpriv "--reuid=$user" "--regid=$group" --clear-groups)
  fi
  log "starting Elasticsearch $VERSION on 127.0.0.1:$port (state $STATE, run dir $RUN_DIR)"
  # -d: the launcher returns once the node has started (or failed); the node writes its pid.
  if ! (cd "$STATE" && "${as_user[@]}" env -i PATH=/usr/bin:/bin HOME="$STATE" ES_JAVA_HOME="$jdk" \
        ES_PATH_CONF="$STATE/config" ES_TMPDIR="$STATE/tmp" ES_JAVA_OPTS="-Xms$HEAP -Xmx$HEAP" \
        setsid "$ES_HOME/bin/elasticsearch" -d -p "$STATE/pid" </dev/null >"$RUN_DIR/stdout.log" 2>&1); then
    echo "elasticsearch.sh: error: Elasticsearch did not start; last lines of $RUN_DIR/stdout.log:" >&2
    tail -n 40 "$RUN_DIR/stdout.log" >&2
    exit 1
  fi
  local waited=0
  until [ -s "$STATE/pid" ] && _ready "$port"; do
    if [ "$waited" -ge "$TIMEOUT" ] || { [ -s "$STATE/pid" ] && ! _alive; }; then
      echo "elasticsearch.sh: error: Elasticsearch not ready on port $port after ${waited}s; last log lines:" >&2
      tail -n 40 "$STATE/logs/"*.log "$RUN_DIR/stdout.log" 2>/dev/null >&2 || true
      stop
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  cp "$STATE/pid" "$RUN_DIR/pid"
  if [ -n "$SECURE" ]; then _api_key "$port"; fi
  log "ready: $(_scheme)://127.0.0.1:$port (pid $(_pid))"
  _print_env "$port"
}

stop() {
  if ! _alive; then
    rm -f "$RUN_DIR/pid"
    return 0
  fi
  local pid i
  pid="$(_pid)"
  kill -CONT "$pid" 2>/dev/null || true   # a node paused by an outage test must see TERM
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "node $pid did not stop within 30s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN_DIR/pid" "$STATE/pid"
  log "stopped (pid $pid)"
}

status() {
  if _alive && [ -f "$RUN_DIR/port" ] && _ready "$(cat "$RUN_DIR/port")"; then
    echo "running: pid $(_pid), $(_scheme)://127.0.0.1:$(cat "$RUN_DIR/port")"
    return 0
  fi
  echo "not running (run dir $RUN_DIR)"
  return 1
}

purge() {
  stop
  rm -rf "$STATE" "$RUN_DIR/state_dir" "$RUN_DIR/port" "$RUN_DIR/tls"
}

case "$CMD" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  purge) purge ;;
  *) echo "usage: $0 install|start [--secure]|stop|status|purge" >&2; exit 2 ;;
esac
