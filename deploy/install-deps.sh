#!/usr/bin/env bash
# Installs every Debian 12 package needed to build cdc-agent, run its demo and run its tests.
set -euo pipefail
packages=(
    build-essential cmake pkg-config clang-format
    libpq-dev libmariadb-dev librdkafka-dev libyaml-dev libjansson-dev libcmocka-dev
    libmicrohttpd-dev libcurl4-openssl-dev # the admin API: server, and the client of --api
    libphonenumber-dev libprotobuf-dev libicu-dev libidn2-dev libssl-dev iso-codes # transforms
    libdouble-conversion-dev # shortest doubles in events
    postgresql-15 postgresql-client-15 mariadb-server mariadb-client curl openssl
    python3 python3-venv # test tools: reading topics (two_way.sh), the API fuzzer (api_fuzz.sh)
    # the peer a benchmark compares with (tests/bench/pg_peer.py: wal2json, psycopg2, librdkafka)
    postgresql-15-wal2json python3-psycopg2 python3-confluent-kafka
    openjdk-17-jre-headless maven # the real Kafka broker of the tests (tests/harness/kafka.sh)
    clang libclang-rt-14-dev # the libFuzzer targets (tests/fuzz/)
)
sudo=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
    sudo=sudo
fi
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: installing ${missing[*]}"
    $sudo apt-get update -qq
    # the packaged services are not needed: tests and the demo start their own servers
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
