# Shared helpers for the harness scripts (sourced, not run).

# Prints a TCP port on 127.0.0.1 that nothing listens on, below the kernel's ephemeral range
# (where the mock Kafka's listeners and every client connection take theirs, and could take it
# between this check and its use).
free_port() {
    local p i low=32768 span
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    span=$((low - 20000))
    [ "$span" -ge 2000 ] || span=12000 # an unusual range: fall back to 20000-31999
    for i in $(seq 1 200); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % span))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    echo "no free port found" >&2
    return 1
}

# Waits up to $2 seconds for command $1 to succeed.
wait_for() {
    local cmd=$1 secs=$2 i
    for i in $(seq 1 $((secs * 10))); do
        if eval "$cmd" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    return 1
}

random_secret() {
    head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 20
}

die() {
    echo "harness: $*" >&2
    exit 1
}

# Starts librdkafka's mock cluster (the cdc-mock-kafka BINARY, 3 brokers) as coprocess MOCK, sets
# $boot and creates the "NAME PARTITIONS" topics; returns 1 (saying which) when one was refused.
mock_kafka_start() { # binary topic-spec...
    local bin=$1 line t rc=0
    shift
    coproc MOCK { "$bin" 3; }
    read -r line <&"${MOCK[0]}"
    boot=${line#bootstrap=}
    read -r line <&"${MOCK[0]}"
    for t in "$@"; do
        echo "topic $t" >&"${MOCK[1]}"
        read -r line <&"${MOCK[0]}"
        [ "$line" = ok ] || { echo "create topic $t: $line" >&2; rc=1; }
    done
    return "$rc"
}
