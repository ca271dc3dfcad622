#!/usr/bin/env bash
# A real OpenSearch node on 127.0.0.1 for development and tests, without Docker.
#
#   deploy/local/search.sh install   assemble the node from Maven Central (cached)
#   deploy/local/search.sh start     install if needed, start (idempotent), wait until ready;
#                                    prints HW_ES_URL=... and HW_STORE_KIND=opensearch
#   deploy/local/search.sh stop      stop the node this run dir started
#   deploy/local/search.sh status    exit 0 and print the URL when the node answers
#
# Why assembled: no registry reachable from this machine serves a runnable OpenSearch
# distribution archive (Maven Central refuses org.opensearch.distribution artifacts; the
# Elasticsearch it serves is deploy/local/elasticsearch.sh's), but Maven Central does publish the
# OpenSearch server and its module jars. A node home is just lib/ (server + runtime
# dependencies), modules/<name>/ (module jars + plugin-descriptor.properties + security
# policy) and a config folder, started with org.opensearch.bootstrap.OpenSearch — the same
# main class and the same jars the official tarball runs.
#
# Environment (all optional):
#   HW_SEARCH_VERSION   OpenSearch version (default 2.19.6, the newest 2.x that runs on Java 17)
#   HW_SEARCH_JAVA_HOME JDK to run it (default: a Java 17 JDK; OpenSearch 2.x needs the
#                       security manager, which JDK 24+ no longer has)
#   HW_SEARCH_HOME      assembled node home (default ~/.cache/hybridwatch/opensearch-<ver>)
#   HW_SERVICES_DIR     run dirs root (default <repo>/.hybridwatch/services); this node
#                       keeps data, logs, config and its pid in $HW_SERVICES_DIR/search
#   HW_SEARCH_PORT      HTTP port (default: a random free port, kept across restarts)
#   HW_SEARCH_HEAP      heap size (default 1g)
#   HW_SEARCH_TIMEOUT   seconds to wait for readiness (default 180)
set -euo pipefail
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_root="$(cd "$_here/../.." && pwd)"
_tpl="$_here/search"

VERSION="${HW_SEARCH_VERSION:-2.19.6}"
CACHE="${HOME}/.cache/hybridwatch"
OS_HOME="${HW_SEARCH_HOME:-$CACHE/opensearch-$VERSION}"
RUN_DIR="${HW_SERVICES_DIR:-$_root/.hybridwatch/services}/search"
HEAP="${HW_SEARCH_HEAP:-1g}"
TIMEOUT="${HW_SEARCH_TIMEOUT:-180}"

log() { echo "search.sh: $*" >&2; }
die() { echo "search.sh: error: $*" >&2; exit 1; }

find_java() {
  local cand
  for cand in "${HW_SEARCH_JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64 /usr/lib/jvm/java-17-openjdk \
              /usr/lib/jvm/temurin-17-jdk-amd64 "${JAVA_HOME:-}"; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] || continue
    if "$cand/bin/java" -version 2>&1 | grep -qE 'version "(17|18|19|20|21|22|23)[."]'; then
      echo "$cand/bin/java"; return 0
    fi
  done
  if command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(17|18|19|20|21|22|23)[."]'; then
    command -v java; return 0
  fi
  die "OpenSearch $VERSION needs a JDK 17..23 (it uses the security manager); none found. Install openjdk-17-jdk-headless or set HW_SEARCH_JAVA_HOME."
}

# --- install ----------------------------------------------------------------------------

_pom() { # $1 = dir, $2... = groupId:artifactId:version  -> a throw-away pom depending on them
  local dir="$1" g a v
  shift
  mkdir -p "$dir"
  {
    echo '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
    echo '<groupId>hybridwatch.local</groupId><artifactId>fetch</artifactId><version>0</version>'
    echo '<packaging>pom</packaging><dependencies>'
    for coord in "$@"; do
      IFS=: read -r g a v <<<"$coord"
      echo "<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"
    done
    echo '</dependencies></project>'
  } > "$dir/pom.xml"
}

_optional_deps() { # $1 = a resolved pom in ~/.m2 -> its optional compile dependencies, g:a:v each
  python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET
ns = {"m": "http://maven.apache.org/POM/4.0.0"}
for d in ET.parse(sys.argv[1]).getroot().findall("m:dependencies/m:dependency", ns):
    if d.findtext("m:optional", "", ns) == "true" and d.findtext("m:scope", "compile", ns) in ("compile", "runtime"):
        print(":".join(d.findtext(f"m:{k}", "", ns) for k in ("groupId", "artifactId", "version")))
PY
}

_copy_deps() { # $1 = groupId:artifactId:version (space-separated list), $2 = output dir, $3 = work dir
  local work="$3"
  # shellcheck disable=SC2086
  _pom "$work" $1
  mvn -B -q -f "$work/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
      -DoutputDirectory="$2" >"$work/mvn.log" 2>&1 \
    || { tail -n 30 "$work/mvn.log" >&2; die "cannot fetch $1 from Maven Central (log: $work/mvn.log)"; }
}

install() {
  if [ -f "$OS_HOME/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "Maven (mvn) is needed to fetch OpenSearch from Maven Central: apt-get install maven"
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.opensearch-$VERSION.lock"
  flock 9
  if [ -f "$OS_HOME/.complete" ]; then return 0; fi   # another installer finished first
  local java tmp work name coord cls
  java="$(find_java)"
  tmp="$OS_HOME.tmp.$$"
  work="$CACHE/.fetch-$VERSION.$$"
  rm -rf "$tmp" "$work"
  mkdir -p "$tmp/lib" "$tmp/modules" "$tmp/plugins" "$tmp/config" "$work"
  log "assembling OpenSearch $VERSION in $OS_HOME from Maven Central (first run only)"
  _copy_deps "org.opensearch:opensearch:$VERSION" "$tmp/lib" "$work/server"
  # The server marks log4j-core, spatial4j and jts-core optional (for embedders); the
  # official distribution ships them in lib/, and the node cannot log without log4j-core.
  local optional
  optional="$(_optional_deps "$HOME/.m2/repository/org/opensearch/opensearch/$VERSION/opensearch-$VERSION.pom" | tr '\n' ' ')"
  [ -n "$optional" ] && _copy_deps "$optional" "$tmp/lib" "$work/server-optional"
  local extra
  extra="$(grep -vE '^\s*(#|$)' "$_tpl/lib-extra.txt" | sed "s|\$|:$VERSION|" | tr '\n' ' ')"
  [ -n "$extra" ] && _copy_deps "$extra" "$tmp/lib" "$work/lib-extra"
  while read -r name coord cls; do
    case "$name" in ''|'#'*) continue ;; esac
    local mdir="$tmp/modules/$name"
    _copy_deps "$coord:$VERSION" "$mdir" "$work/$name"
    # the server's class path already has these; a second copy in the module is jar hell
    for jar in "$mdir"/*.jar; do
      [ -e "$tmp/lib/$(basename "$jar")" ] && rm -f "$jar"
    done
    cat > "$mdir/plugin-descriptor.properties" <<DESC
description=$name module of OpenSearch $VERSION (assembled from $coord:$VERSION)
version=$VERSION
name=$name
classname=$cls
java.version=11
opensearch.version=$VERSION
extended.plugins=
has.native.controller=false
DESC
    if [ -f "$_tpl/policies/$name.policy" ]; then
      cp "$_tpl/policies/$name.policy" "$mdir/plugin-security.policy"
    fi
  done < "$_tpl/modules.txt"
  cp "$_tpl/log4j2.properties" "$tmp/config/log4j2.properties"
  {
    echo "engine=opensearch"
    echo "version=$VERSION"
    echo "source=Maven Central: org.opensearch:opensearch:$VERSION + modules (see deploy/local/search/modules.txt)"
    echo "java=$("$java" -version 2>&1 | head -1)"
    echo "assembled=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } > "$tmp/PROVENANCE"
  rm -rf "$work"
  rm -rf "$OS_HOME"
  mv "$tmp" "$OS_HOME"
  touch "$OS_HOME/.complete"
  log "OpenSearch $VERSION assembled: $(ls "$OS_HOME/lib" | wc -l) jars in lib/, modules: $(ls "$OS_HOME/modules" | tr '\n' ' ')"
}

# --- start / stop -------------------------------------------------------------------------

_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

_alive() { # the pid file's process is alive AND is the node of this run dir (pids get reused)
  local pid
  [ -f "$RUN_DIR/pid" ] || return 1
  pid="$(cat "$RUN_DIR/pid")"
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-Dopensearch.path.conf=$RUN_DIR/config"
}

_ready() { # $1 = port
  curl -sf -m 5 "http://127.0.0.1:$1/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1
}

_print_env() {
  echo "HW_ES_URL=http://127.0.0.1:$1"
  echo "HW_STORE_KIND=opensearch"
}

start() {
  mkdir -p "$RUN_DIR"
  if _alive && [ -f "$RUN_DIR/port" ] && _ready "$(cat "$RUN_DIR/port")"; then
    log "already running (pid $(cat "$RUN_DIR/pid")) on port $(cat "$RUN_DIR/port")"
    _print_env "$(cat "$RUN_DIR/port")"
    return 0
  fi
  if _alive; then
    log "a node from $RUN_DIR is running but not answering; stopping it first"
    stop
  fi
  install
  local java port tport
  java="$(find_java)"
  port="${HW_SEARCH_PORT:-}"
  [ -n "$port" ] || { [ -f "$RUN_DIR/port" ] && port="$(cat "$RUN_DIR/port")"; } || true
  if [ -z "$port" ] || ! python3 -c "import socket; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
    [ -n "${HW_SEARCH_PORT:-}" ] && die "port $HW_SEARCH_PORT (HW_SEARCH_PORT) is in use"
    port="$(_free_port)"
  fi
  tport="$(_free_port)"
  mkdir -p "$RUN_DIR/config" "$RUN_DIR/data" "$RUN_DIR/logs" "$RUN_DIR/tmp"
  sed -e "s|@HTTP_PORT@|$port|" -e "s|@TRANSPORT_PORT@|$tport|" -e "s|@RUN_DIR@|$RUN_DIR|g" \
      "$_tpl/opensearch.yml.in" > "$RUN_DIR/config/opensearch.yml"
  cp "$_tpl/log4j2.properties" "$RUN_DIR/config/log4j2.properties"
  echo "$port" > "$RUN_DIR/port"
  : > "$RUN_DIR/stdout.log"
  log "starting OpenSearch $VERSION on 127.0.0.1:$port (run dir $RUN_DIR)"
  # The system properties below are what the official bin/opensearch launcher passes.
  (
    cd "$RUN_DIR"
    exec setsid "$java" -Xms"$HEAP" -Xmx"$HEAP" -XX:+UseG1GC -XX:+HeapDumpOnOutOfMemoryError \
      -XX:HeapDumpPath="$RUN_DIR/logs" -XX:ErrorFile="$RUN_DIR/logs/hs_err_pid%p.log" \
      -Xss1m -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true -Djna.noclasspath=true \
      -XX:-OmitStackTraceInFastThrow -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true \
      -Dio.netty.recycler.maxCapacityPerThread=0 -Dio.netty.allocator.numDirectArenas=0 \
      -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true -Dlog4j2.formatMsgNoLookups=true \
      -Djava.locale.providers=SPI,COMPAT -Djava.io.tmpdir="$RUN_DIR/tmp" \
      -Dopensearch.path.home="$OS_HOME" -Dopensearch.path.conf="$RUN_DIR/config" \
      -Dopensearch.distribution.type=tar -Dopensearch.bundled_jdk=false \
      -cp "$OS_HOME/lib/*" org.opensearch.bootstrap.OpenSearch </dev/null >>"$RUN_DIR/stdout.log" 2>&1
  ) &
  echo $! > "$RUN_DIR/pid"
  local waited=0
  local started_pid
  started_pid="$(cat "$RUN_DIR/pid")"
  until _ready "$port"; do
    if ! kill -0 "$started_pid" 2>/dev/null; then  # (not _alive: the exec may not have happened yet)
      echo "search.sh: error: OpenSearch exited during start-up; last lines of $RUN_DIR/stdout.log:" >&2
      tail -n 40 "$RUN_DIR/stdout.log" >&2
      rm -f "$RUN_DIR/pid"
      exit 1
    fi
    if [ "$waited" -ge "$TIMEOUT" ]; then
      echo "search.sh: error: OpenSearch not ready on port $port after ${TIMEOUT}s; last lines of $RUN_DIR/stdout.log:" >&2
      tail -n 40 "$RUN_DIR/stdout.log" >&2
      stop
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "ready after ~${waited}s: http://127.0.0.1:$port"
  _print_env "$port"
}

stop() {
  if ! _alive; then
    rm -f "$RUN_DIR/pid"
    return 0
  fi
  local pid i
  pid="$(cat "$RUN_DIR/pid")"
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
  rm -f "$RUN_DIR/pid"
  log "stopped (pid $pid)"
}

status() {
  if _alive && [ -f "$RUN_DIR/port" ] && _ready "$(cat "$RUN_DIR/port")"; then
    echo "running: pid $(cat "$RUN_DIR/pid"), http://127.0.0.1:$(cat "$RUN_DIR/port")"
    return 0
  fi
  echo "not running (run dir $RUN_DIR)"
  return 1
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
