#!/bin/sh
# Loads the ISM policy, the index template and the data stream into OpenSearch (docker-compose
# service opensearch-init; the backends collector starts only once this exits 0). Fails loudly on
# anything but "already exists", so a rejected template never lets the first write auto-create an
# index with dynamic mappings.
#   OPENSEARCH_URL   default http://opensearch:9200
#   ASSETS_DIR       default the folder of this script
set -u
URL="${OPENSEARCH_URL:-http://opensearch:9200}"
DIR="${ASSETS_DIR:-$(dirname "$0")}"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT

# put <what> <path> [file]: PUT, succeed on 2xx or an "already exists" answer, else print and exit 1.
put() {
  if [ -n "${3:-}" ]; then
    code=$(curl -sS -o "$OUT" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
      --data-binary "@$3" "$URL$2") || { echo "opensearch-init: $1: cannot reach $URL" >&2; exit 1; }
  else
    code=$(curl -sS -o "$OUT" -w '%{http_code}' -X PUT "$URL$2") ||
      { echo "opensearch-init: $1: cannot reach $URL" >&2; exit 1; }
  fi
  case "$code" in
    2??) echo "opensearch-init: $1: created" ;;
    *)
      if grep -q -e 'resource_already_exists_exception' -e 'version_conflict_engine_exception' "$OUT"; then
        echo "opensearch-init: $1: already exists"
      else
        echo "opensearch-init: $1 FAILED (HTTP $code): $(cat "$OUT")" >&2
        exit 1
      fi
      ;;
  esac
}

put 'ISM policy spendline-usage-logs-90d' /_plugins/_ism/policies/spendline-usage-logs-90d "$DIR/ism-policy.json"
put 'index template spendline-usage-logs' /_index_template/spendline-usage-logs "$DIR/index-template.json"
# Created here, after the template: the first write finds it and never auto-creates an index.
put 'data stream ss4o_logs-spendline-default' /_data_stream/ss4o_logs-spendline-default
