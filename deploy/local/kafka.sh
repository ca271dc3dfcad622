#!/usr/bin/env bash
# Apache Kafka (KRaft mode) on 127.0.0.1 without Docker.
#
#   deploy/local/kafka.sh install                 fetch the broker jars from Maven Central (cached)
#   deploy/local/kafka.sh start [--brokers N]     format storage (first time) and start N nodes
#                                                 (each broker+controller); idempotent; prints
#                                                 HW_KAFKA_BOOTSTRAP=127.0.0.1:PORT[,...] on stdout
#   deploy/local/kafka.sh stop [--node I]         stop every node (or only node I, 1-based)
#   deploy/local/kafka.sh status                  print the nodes' state; exit 1 if none is up
#   deploy/local/kafka.sh bootstrap               print the bootstrap list of a started cluster
#
# Options (before or after the subcommand): --dir DIR (runtime dir; default
# $HW_SERVICES_DIR/kafka, else <repo>/.hybridwatch/services/kafka), --brokers N (default 1),
# --heap SIZE (per node, default 512m), --timeout SECONDS (readiness, default 180),
# --secure (first start only: a SASL_SSL listener with SCRAM-SHA-512 and a throw-away CA
# beside PLAINTEXT; prints HW_KAFKA_SECURE_BOOTSTRAP, HW_KAFKA_CAFILE, HW_KAFKA_SASL_USERNAME,
# HW_KAFKA_SASL_PASSWORD_FILE too; for tests of the clients' security settings).
# Environment: HW_KAFKA_VERSION (default 4.3.1), HW_CACHE_DIR (default ~/.cache/hybridwatch),
# JAVA_HOME (a Java 17+ runtime; else `java` on PATH), MAVEN_OPTS / HW_MVN_ARGS for mvn.
#
# Why Maven: Maven Central is the one source of Kafka reachable everywhere this project runs
# (dev machines and CI have no other internet and no Docker). org.apache.kafka:kafka_2.13 and its
# runtime dependencies are the broker's classpath; we run kafka.Kafka and kafka.tools.StorageTool
# directly, as the binary distribution's scripts do. Everything but the runtime dir (configs, data,
# logs, pids) lives in the cache outside the clone, so a clean clone re-uses downloads.
set -euo pipefail

KAFKA_VERSION="${HW_KAFKA_VERSION:-4.3.1}"
LOG4J_VERSION="${HW_KAFKA_LOG4J_VERSION:-2.25.3}"
SLF4J_VERSION="${HW_KAFKA_SLF4J_VERSION:-2.0.17}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_root="$(cd "$_here/../.." && pwd)"
CACHE_DIR="${HW_CACHE_DIR:-$HOME/.cache/hybridwatch}/kafka/$KAFKA_VERSION"
LIB_DIR="$CACHE_DIR/lib"

die() { echo "kafka.sh: $*" >&2; exit 1; }
log() { echo "kafka.sh: $*" >&2; }

# ---- arguments --------------------------------------------------------------------------
CMD=""
RUN_DIR=""
BROKERS=""
SECURE=""
NODE=""
HEAP="${HW_KAFKA_HEAP:-512m}"
TIMEOUT="${HW_KAFKA_START_TIMEOUT:-180}"
while [ $# -gt 0 ]; do
  case "$1" in
    install|start|stop|status|bootstrap) CMD="$1" ;;
    --dir) RUN_DIR="$2"; shift ;;
    --dir=*) RUN_DIR="${1#*=}" ;;
    --brokers) BROKERS="$2"; shift ;;
    --brokers=*) BROKERS="${1#*=}" ;;
    --secure) SECURE=1 ;;
    --node) NODE="$2"; shift ;;
    --node=*) NODE="${1#*=}" ;;
    --heap) HEAP="$2"; shift ;;
    --timeout) TIMEOUT="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (usage: kafka.sh install|start|stop|status|bootstrap [--dir DIR] [--brokers N] [--node I] [--secure])" ;;
  esac
  shift
done
[ -n "$CMD" ] || die "missing subcommand: install|start|stop|status|bootstrap"
if [ -z "$RUN_DIR" ]; then
  if [ -n "${HW_SERVICES_DIR:-}" ]; then RUN_DIR="$HW_SERVICES_DIR/kafka"; else RUN_DIR="$_root/.hybridwatch/services/kafka"; fi
fi
case "$BROKERS" in ''|[1-9]) ;; *) die "--brokers must be 1..9, got '$BROKERS'" ;; esac

# ---- tools ------------------------------------------------------------------------------
java_bin() {
  local j
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then j="$JAVA_HOME/bin/java"; else j="$(command -v java || true)"; fi
  [ -n "$j" ] || die "no Java runtime found: Kafka $KAFKA_VERSION needs Java 17 or newer (install openjdk-17-jre-headless or set JAVA_HOME)"
  local v
  v="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)"
  if [ -z "$v" ] || [ "$v" -lt 17 ]; then die "$j is Java '${v:-unknown}': Kafka $KAFKA_VERSION needs Java 17 or newer (set JAVA_HOME)"; fi
  echo "$j"
}

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- install ----------------------------------------------------------------------------
do_install() {
  if [ -f "$CACHE_DIR/.complete" ]; then return 0; fi
  command -v mvn >/dev/null || die "mvn (Apache Maven) is needed once to fetch Kafka $KAFKA_VERSION from Maven Central (apt-get install maven)"
  mkdir -p "$CACHE_DIR"
  # several processes (make services-up, a pytest fixture) may install at once: serialise
  exec 9>"$CACHE_DIR/.lock"
  flock 9
  if [ -f "$CACHE_DIR/.complete" ]; then exec 9>&-; return 0; fi
  log "fetching Apache Kafka $KAFKA_VERSION (kafka_2.13 + runtime deps) from Maven Central into $CACHE_DIR"
  sed -e "s/@KAFKA_VERSION@/$KAFKA_VERSION/g" -e "s/@LOG4J_VERSION@/$LOG4J_VERSION/g" \
      -e "s/@SLF4J_VERSION@/$SLF4J_VERSION/g" "$_here/kafka/pom.xml.in" > "$CACHE_DIR/pom.xml"
  rm -rf "$LIB_DIR.tmp"
  # shellcheck disable=SC2086
  if ! mvn -B -q -f "$CACHE_DIR/pom.xml" ${HW_MVN_ARGS:-} "$DEP_PLUGIN:copy-dependencies" \
        -DoutputDirectory="$LIB_DIR.tmp" -DincludeScope=runtime > "$CACHE_DIR/mvn.log" 2>&1; then
    tail -n 30 "$CACHE_DIR/mvn.log" >&2
    die "mvn could not fetch Kafka $KAFKA_VERSION (full log: $CACHE_DIR/mvn.log)"
  fi
  [ -f "$LIB_DIR.tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || die "mvn finished but kafka_2.13-$KAFKA_VERSION.jar is missing in $LIB_DIR.tmp"
  rm -rf "$LIB_DIR"
  mv "$LIB_DIR.tmp" "$LIB_DIR"
  touch "$CACHE_DIR/.complete"
  exec 9>&-
  log "Kafka $KAFKA_VERSION installed ($(ls "$LIB_DIR" | wc -l) jars)"
}

classpath() { local IFS=:; local jars=("$LIB_DIR"/*.jar); echo "${jars[*]}"; }

# ---- cluster layout ---------------------------------------------------------------------
# $RUN_DIR/cluster.env records the layout on first start so that a restart (stop, start)
# re-uses the same ports, cluster id and data: that is what the broker-restart test needs.
load_layout() {
  # shellcheck disable=SC1091
  [ -f "$RUN_DIR/cluster.env" ] && . "$RUN_DIR/cluster.env"
  return 0
}

new_layout() {
  local n="$1" i
  mkdir -p "$RUN_DIR"
  {
    echo "N=$n"
    echo "CLUSTER_ID=$("$(java_bin)" -cp "$(classpath)" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    for i in $(seq 1 "$n"); do
      echo "PORT_$i=$(free_port)"
      echo "CPORT_$i=$(free_port)"
      if [ -n "$SECURE" ]; then echo "SPORT_$i=$(free_port)"; fi
    done
    if [ -n "$SECURE" ]; then echo "SECURE=1"; fi
  } > "$RUN_DIR/cluster.env.tmp"
  mv "$RUN_DIR/cluster.env.tmp" "$RUN_DIR/cluster.env"
}

var() { eval "echo \"\${$1:-}\""; }

secure_bootstrap_list() {
  local i out=""
  for i in $(seq 1 "$N"); do out="${out:+$out,}127.0.0.1:$(var "SPORT_$i")"; done
  echo "$out"
}

# ---- secure mode (--secure): a SASL_SSL listener with SCRAM-SHA-512 beside PLAINTEXT -----
# Throw-away TLS material made with openssl on first start: a CA (ca.pem, what clients
# trust) and a server certificate for 127.0.0.1/localhost signed by it; the broker reads
# them as a PEM key store. One SCRAM user, `hybridwatch`, with a random password written
# to $RUN_DIR/tls/scram-password (created at storage format time, as KRaft requires).
# For tests of the clients' security settings; nothing here is fit for production.
tls_material() {
  local t="$RUN_DIR/tls"
  [ -f "$t/server.pem" ] && return 0
  mkdir -p "$t"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=hybridwatch test CA" \
    -keyout "$t/ca.key" -out "$t/ca.pem" >/dev/null 2>&1 || die "openssl: could not make the test CA"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$t/server.key" -out "$t/server.csr" >/dev/null 2>&1 || die "openssl: could not make the server key"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > "$t/san.ext"
  openssl x509 -req -in "$t/server.csr" -CA "$t/ca.pem" -CAkey "$t/ca.key" -CAcreateserial \
    -days 2 -extfile "$t/san.ext" -out "$t/server.crt" >/dev/null 2>&1 || die "openssl: could not sign the server certificate"
  openssl pkcs8 -topk8 -nocrypt -in "$t/server.key" -out "$t/server.pk8" || die "openssl: pkcs8"
  cat "$t/server.pk8" "$t/server.crt" "$t/ca.pem" > "$t/server.pem"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$t/scram-password"
  chmod 600 "$t/ca.key" "$t/server.key" "$t/server.pk8" "$t/server.pem" "$t/scram-password"
}

bootstrap_list() {
  local i out=""
  for i in $(seq 1 "$N"); do out="${out:+$out,}127.0.0.1:$(var "PORT_$i")"; done
  echo "$out"
}

write_node_config() {
  local i="$1" d="$RUN_DIR/node$1" voters="" j
  for j in $(seq 1 "$N"); do voters="${voters:+$voters,}$j@127.0.0.1:$(var "CPORT_$j")"; done
  local rf=$(( N < 3 ? N : 3 ))
  local isr=$(( rf > 1 ? 2 : 1 ))
  mkdir -p "$d/data" "$d/logs"
  cat > "$d/server.properties" <<EOF
# generated by deploy/local/kafka.sh: node $i of $N (combined broker + controller, KRaft)
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(var "PORT_$i"),CONTROLLER://127.0.0.1:$(var "CPORT_$i")${SECURE:+,SASL_SSL://127.0.0.1:$(var "SPORT_$i")}
advertised.listeners=PLAINTEXT://127.0.0.1:$(var "PORT_$i")${SECURE:+,SASL_SSL://127.0.0.1:$(var "SPORT_$i")}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${SECURE:+,SASL_SSL:SASL_SSL}
log.dirs=$d/data
# topics are created explicitly (hybridwatch topics, Faust); an auto-created topic would get the
# wrong partition count and break co-partitioning of articles and table changelogs
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=12
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
group.initial.rebalance.delay.ms=0
log.retention.hours=168
log.segment.bytes=104857600
num.network.threads=2
num.io.threads=4
EOF
  if [ -n "${SECURE:-}" ]; then
    cat >> "$d/server.properties" <<EOF
# --secure: SASL_SSL with SCRAM-SHA-512 (throw-away CA in $RUN_DIR/tls)
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$RUN_DIR/tls/server.pem
EOF
  fi
  cat > "$d/log4j2.properties" <<'EOF'
status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

node_pid() { local f="$RUN_DIR/node$1/pid"; [ -f "$f" ] && cat "$f" || true; }
node_alive() { local p; p="$(node_pid "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

start_node() {
  local i="$1" d="$RUN_DIR/node$1" j cp
  j="$(java_bin)"
  cp="$(classpath)"
  if [ ! -f "$d/data/meta.properties" ]; then
    local scram=()
    if [ -n "${SECURE:-}" ]; then scram=(--add-scram "SCRAM-SHA-512=[name=hybridwatch,password=$(cat "$RUN_DIR/tls/scram-password")]"); fi
    "$j" -Dlog4j2.configurationFile="$d/log4j2.properties" -Dkafka.logs.dir="$d/logs" -cp "$cp" \
      kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$d/server.properties" "${scram[@]}" > "$d/logs/format.log" 2>&1 \
      || { tail -n 20 "$d/logs/format.log" >&2; die "formatting storage of node $i failed (log: $d/logs/format.log)"; }
  fi
  : > "$d/logs/server.log"
  # setsid: the broker must not die with the shell (or pytest) that started it
  setsid nohup "$j" -Xms128m -Xmx"$HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$d/log4j2.properties" \
    -Dkafka.logs.dir="$d/logs" -cp "$cp" kafka.Kafka "$d/server.properties" \
    > "$d/logs/stdout.log" 2>&1 < /dev/null &
  echo $! > "$d/pid"
}

wait_ready() {
  local deadline=$(( $(date +%s) + TIMEOUT )) i pending
  while :; do
    pending=""
    for i in $(seq 1 "$N"); do
      local d="$RUN_DIR/node$i"
      if ! node_alive "$i"; then
        echo "---- node $i stdout:" >&2; tail -n 20 "$d/logs/stdout.log" >&2 || true
        echo "---- node $i server.log:" >&2; tail -n 40 "$d/logs/server.log" >&2 || true
        die "Kafka node $i exited during start-up (logs in $d/logs)"
      fi
      if ! { grep -q "Kafka Server started" "$d/logs/server.log" 2>/dev/null && port_open "$(var "PORT_$i")"; }; then
        pending="$pending $i"
      fi
    done
    [ -z "$pending" ] && return 0
    if [ "$(date +%s)" -ge "$deadline" ]; then
      for i in $pending; do echo "---- node $i server.log (tail):" >&2; tail -n 40 "$RUN_DIR/node$i/logs/server.log" >&2 || true; done
      die "Kafka node(s)$pending not ready after ${TIMEOUT}s (logs in $RUN_DIR/node*/logs)"
    fi
    sleep 0.5
  done
}

do_start() {
  do_install
  load_layout
  local want="${BROKERS:-${N:-1}}"
  if [ -n "${N:-}" ] && [ "$N" != "$want" ]; then
    die "$RUN_DIR holds a $N-node cluster; stop it and remove that dir to start $want nodes"
  fi
  [ -n "${N:-}" ] || { new_layout "$want"; load_layout; }
  if [ -n "${SECURE:-}" ]; then tls_material; fi
  local i started=""
  for i in $(seq 1 "$N"); do
    if node_alive "$i"; then continue; fi
    write_node_config "$i"
    start_node "$i"
    started="$started $i"
  done
  [ -n "$started" ] && log "starting Kafka $KAFKA_VERSION node(s)$started in $RUN_DIR"
  wait_ready
  echo "HW_KAFKA_BOOTSTRAP=$(bootstrap_list)"
  if [ -n "${SECURE:-}" ]; then
    echo "HW_KAFKA_SECURE_BOOTSTRAP=$(secure_bootstrap_list)"
    echo "HW_KAFKA_CAFILE=$RUN_DIR/tls/ca.pem"
    echo "HW_KAFKA_SASL_USERNAME=hybridwatch"
    echo "HW_KAFKA_SASL_PASSWORD_FILE=$RUN_DIR/tls/scram-password"
  fi
}

stop_node() {
  local i="$1" p
  p="$(node_pid "$i")"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    local t=0
    while kill -0 "$p" 2>/dev/null && [ $t -lt 60 ]; do sleep 0.5; t=$((t + 1)); done
    if kill -0 "$p" 2>/dev/null; then log "node $i did not stop in 30s, killing"; kill -KILL "$p" 2>/dev/null || true; fi
  fi
  rm -f "$RUN_DIR/node$i/pid"
}

do_stop() {
  load_layout
  [ -n "${N:-}" ] || return 0
  local i
  if [ -n "$NODE" ]; then stop_node "$NODE"; return 0; fi
  # stop the others first and the first node last, so the quorum stays until the end
  for i in $(seq "$N" -1 1); do stop_node "$i" & done
  wait
}

do_status() {
  load_layout
  [ -n "${N:-}" ] || { echo "no Kafka cluster in $RUN_DIR"; return 1; }
  local i up=0
  for i in $(seq 1 "$N"); do
    if node_alive "$i"; then echo "node $i: up (pid $(node_pid "$i"), 127.0.0.1:$(var "PORT_$i"))"; up=$((up + 1));
    else echo "node $i: down"; fi
  done
  echo "HW_KAFKA_BOOTSTRAP=$(bootstrap_list)"
  [ "$up" -gt 0 ]
}

case "$CMD" in
  install) do_install ;;
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  bootstrap) load_layout; [ -n "${N:-}" ] || die "no Kafka cluster in $RUN_DIR"; echo "HW_KAFKA_BOOTSTRAP=$(bootstrap_list)" ;;
esac
