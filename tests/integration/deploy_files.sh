#!/usr/bin/env bash
# What deploy/ promises, checked on the files (no container engine runs in CI) and on the agent:
# the Kubernetes sidecar has liveness and startup probes on /healthz and no readiness probe (a
# readiness gate on the sidecar would take the database pod out of its Service whenever Kafka is
# down); compose keeps Kafka's log in a named volume under a fixed cluster id and restarts the
# agent; the image has a HEALTHCHECK, a .dockerignore, and refuses embedded Kafka unless asked.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/harness/assert.sh"
root=$(cd "$here/.." && pwd)
k8s=$(sed -n '/- name: cdc-agent/,/volumeMounts/p' "$root/deploy/k8s/cdc-agent-sidecar.yaml")
assert_contains "$k8s" "livenessProbe: { httpGet: { path: /healthz" "sidecar: liveness on /healthz"
assert_contains "$k8s" "startupProbe: { httpGet: { path: /healthz" "sidecar: startup probe"
assert_not_contains "$(grep -v '^ *#' <<<"$k8s")" "readinessProbe" "sidecar: no readiness probe"
compose=$(cat "$root/deploy/docker-compose.yml")
assert_contains "$compose" "kafka-data:/var/lib/kafka/data" "compose: Kafka's log in a named volume"
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$CDC_SOURCE_DIR/tests/harness/kafka/pom.xml")
assert_contains "$compose" "image: apache/kafka:$kafka_version " "compose: the Kafka version of the tests ($kafka_version)"
for setting in TRANSACTION_STATE_LOG_REPLICATION_FACTOR TRANSACTION_STATE_LOG_MIN_ISR AUTO_CREATE_TOPICS_ENABLE; do
    key=$(echo "$setting" | tr 'A-Z_' 'a-z.')
    want=$(sed -n "s/^$key=//p" "$CDC_SOURCE_DIR/tests/harness/kafka.sh")
    assert_contains "$compose" "KAFKA_$setting: $( [ "$want" = false ] && echo '"false"' || echo "$want")" "compose: $key as in the tests ($want)"
done
assert_contains "$compose" $'volumes:\n  kafka-data:' "compose: the volume is declared"
[[ "$compose" =~ CLUSTER_ID:\ \"[A-Za-z0-9_-]{22}\" ]] && ok || bad "compose: a fixed cluster id (22-character base64 UUID)"
assert_contains "$(sed -n '/cdc-agent:/,$p' <<<"$compose")" "restart: unless-stopped" "compose: the agent restarts"
docker=$(cat "$root/deploy/Dockerfile")
assert_contains "$docker" "HEALTHCHECK" "image: health check"
assert_contains "$docker" "ENV CDC_EMBEDDED_KAFKA=refuse" "image: embedded Kafka refused"
for p in .git build .harness; do grep -qx "$p" "$root/.dockerignore" && ok || bad ".dockerignore: $p"; done

# the image's environment: embedded Kafka refused with the way out; allowed when asked for
run env CDC_EMBEDDED_KAFKA=refuse "$CDC_AGENT" check -c "$root/config/crm-erp.yaml"
assert_eq 2 "$rc" "embedded refused: config error"
assert_contains "$out" "crm-erp.yaml:$(grep -n '^  brokers:' "$root/config/crm-erp.yaml" | cut -d: -f1):" \
    "embedded refused: file and line"
assert_contains "$out" "CDC_EMBEDDED_KAFKA=allow" "embedded refused: the way out"
run env CDC_EMBEDDED_KAFKA=allow CRM_PORT=1 ERP_PORT=1 "$CDC_AGENT" check -c "$root/config/crm-erp.yaml"
assert_not_contains "$out" "refused here" "embedded allowed when asked"
finish
