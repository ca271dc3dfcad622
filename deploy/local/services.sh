#!/usr/bin/env bash
# Local services for development and tests, without Docker.
#
#   deploy/local/services.sh up     start Kafka (KRaft) and the search engine on 127.0.0.1,
#                                   write their addresses to .hybridwatch/services.env
#   deploy/local/services.sh down   stop what `up` started
#   source deploy/local/services.sh env
#                                   export the addresses from services.env (if present)
#
# HW_KAFKA_BOOTSTRAP / HW_ES_URL / HW_ELASTIC_URL set beforehand point at servers you
# already run: then the matching local server is neither started nor stopped.
# HW_SEARCH_ENGINES (default "opensearch elasticsearch") says which search engines `up`
# starts: OpenSearch (search.sh, HW_ES_URL, the store's engine) and a real Elasticsearch
# beside it (elasticsearch.sh, HW_ELASTIC_URL) that the engine tests also run on.
# Each engine has its own script (kafka.sh, search.sh, elasticsearch.sh) with
# install|start|stop|status; `start` prints KEY=VALUE lines for services.env on stdout.
set -uo pipefail
_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_root="$(cd "$_here/../.." && pwd)"
_envfile="$_root/.hybridwatch/services.env"

_services_up() {
  set -e
  mkdir -p "$_root/.hybridwatch"
  : > "$_envfile.tmp"
  if [ -n "${HW_KAFKA_BOOTSTRAP:-}" ]; then
    echo "HW_KAFKA_BOOTSTRAP=$HW_KAFKA_BOOTSTRAP" >> "$_envfile.tmp"
  else
    "$_here/kafka.sh" start | grep -E '^HW_[A-Z_]+=' >> "$_envfile.tmp"
  fi
  if [ -n "${HW_ES_URL:-}" ]; then
    echo "HW_ES_URL=$HW_ES_URL" >> "$_envfile.tmp"
    [ -n "${HW_STORE_KIND:-}" ] && echo "HW_STORE_KIND=$HW_STORE_KIND" >> "$_envfile.tmp"
  else
    "$_here/search.sh" start | grep -E '^HW_[A-Z_]+=' >> "$_envfile.tmp"
  fi
  if [ -n "${HW_ELASTIC_URL:-}" ]; then
    echo "HW_ELASTIC_URL=$HW_ELASTIC_URL" >> "$_envfile.tmp"
  elif [[ " ${HW_SEARCH_ENGINES:-opensearch elasticsearch} " == *" elasticsearch "* ]]; then
    "$_here/elasticsearch.sh" start | grep -E '^HW_[A-Z_]+=' >> "$_envfile.tmp"
  fi
  mv "$_envfile.tmp" "$_envfile"
  echo "services up; addresses in $_envfile:"
  cat "$_envfile"
}

_services_down() {
  "$_here/kafka.sh" stop || true
  "$_here/search.sh" stop || true
  "$_here/elasticsearch.sh" stop || true
  rm -f "$_envfile"
}

case "${1:-}" in
  up) _services_up ;;
  down) _services_down ;;
  env)
    if [ -f "$_envfile" ]; then
      while IFS='=' read -r _k _v; do
        case "$_k" in HW_*) [ -z "${!_k:-}" ] && export "$_k=$_v" ;; esac
      done < "$_envfile"
    fi
    ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
