#!/usr/bin/env bash
# A real Apache Kafka broker for tests: KRaft, broker and controller in one node, on free loopback
# ports, its log in a temp dir, started from the jars Maven resolves for tests/harness/kafka/pom.xml
# (once, into the local Maven repository; later starts run offline).
#   kafka.sh start DIR     starts it and writes DIR/kafka.env (CDC_TEST_KAFKA_* variables)
#   kafka.sh kill DIR      kill -9 (a broker crash); its log stays
#   kafka.sh restart DIR   starts the same broker again on its log and ports
#   kafka.sh stop DIR      stops it and removes its log
# JVM heap: CDC_KAFKA_HEAP (default 512m); CDC_KAFKA_PROPS: more server.properties lines. With CDC_KAFKA_OWNER_PID set at start, the broker is
# killed and its log removed when that process exits without stopping it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

cmd=${1:?usage: kafka.sh start|kill|restart|stop DIR}
dir=${2:?usage: kafka.sh start|kill|restart|stop DIR}
mkdir -p "$dir"
envfile=$dir/kafka.env
command -v java >/dev/null || die "java not installed (apt-get install -y openjdk-17-jre-headless)"
command -v mvn >/dev/null || die "maven not installed (apt-get install -y maven)"

# The broker's class path: offline from the local repository, else resolved once from Maven
# Central.
classpath() {
    local out=$1 pom=$here/kafka/pom.xml log=$1.log
    mvn -q -B -o -f "$pom" dependency:build-classpath -Dmdep.outputFile="$out" >"$log" 2>&1 ||
        mvn -q -B -f "$pom" dependency:build-classpath -Dmdep.outputFile="$out" >>"$log" 2>&1 ||
        { cat "$log" >&2; die "maven could not resolve the Kafka broker (tests/harness/kafka/pom.xml)"; }
}

# Starts the broker of root ($1) in the background and waits until it accepts connections.
launch() {
    local root=$1
    . "$root/ports"
    setsid java -Xms"${CDC_KAFKA_HEAP:-512m}" -Xmx"${CDC_KAFKA_HEAP:-512m}" -XX:+UseSerialGC \
        -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$(cat "$root/classpath")" \
        kafka.Kafka "$root/server.properties" </dev/null >>"$root/broker.log" 2>&1 &
    echo $! >"$root/pid"
    if [ -n "${CDC_KAFKA_OWNER_PID:-}" ]; then # the broker does not outlive the test that owns it
        echo "$CDC_KAFKA_OWNER_PID" >"$root/owner"
    fi
    if [ -f "$root/owner" ]; then
        setsid bash -c 'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done
                        kill -9 "$2" 2>/dev/null; sleep 1; [ -e "$3/owner" ] && ! kill -0 "$1" 2>/dev/null && rm -rf "$3"' \
            _ "$(cat "$root/owner")" "$(cat "$root/pid")" "$root" </dev/null >/dev/null 2>&1 &
    fi
    wait_for "(exec 3<>/dev/tcp/127.0.0.1/$broker_port)" 60 || { tail -20 "$root/broker.log" >&2; return 1; }
}

stop() {
    [ -f "$envfile" ] || return 0
    . "$envfile"
    local pid
    pid=$(cat "$CDC_TEST_KAFKA_ROOT/pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait_for "! kill -0 $pid" 30 || kill -9 "$pid" 2>/dev/null || true
    fi
    [ -n "${CDC_TEST_KAFKA_ROOT:-}" ] && rm -rf "$CDC_TEST_KAFKA_ROOT"
    rm -f "$envfile"
}

start() {
    local root broker_port controller_port id
    root=$(mktemp -d /tmp/cdc-kafka.XXXXXX)
    classpath "$root/classpath"
    broker_port=$(free_port)
    controller_port=$(free_port)
    while [ "$controller_port" = "$broker_port" ]; do controller_port=$(free_port); done
    printf 'broker_port=%s\ncontroller_port=%s\n' "$broker_port" "$controller_port" >"$root/ports"
    cat >"$root/server.properties" <<EOP
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$broker_port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$broker_port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$root/data
auto.create.topics.enable=false
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
${CDC_KAFKA_PROPS:-}
EOP
    # a cluster id is 16 random bytes, base64url without padding (it may start with "-": given
    # as --cluster-id=ID, not as an argument of its own)
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    java -cp "$(cat "$root/classpath")" kafka.tools.StorageTool format --cluster-id="$id" \
        -c "$root/server.properties" >"$root/format.log" 2>&1 ||
        { cat "$root/format.log" >&2; die "formatting the Kafka log failed"; }
    launch "$root" || die "kafka did not start"
    . "$root/ports"
    cat >"$envfile" <<EOV
CDC_TEST_KAFKA_ROOT=$root
CDC_TEST_KAFKA_BOOTSTRAP=127.0.0.1:$broker_port
EOV
    echo "kafka ready on 127.0.0.1:$broker_port (log $root/data)"
}

case $cmd in
start) start ;;
stop) stop ;;
kill)
    . "$envfile"
    kill -9 "$(cat "$CDC_TEST_KAFKA_ROOT/pid")" 2>/dev/null || true
    wait_for "! kill -0 $(cat "$CDC_TEST_KAFKA_ROOT/pid")" 10 || true
    ;;
restart)
    . "$envfile"
    launch "$CDC_TEST_KAFKA_ROOT" || die "kafka did not start again"
    ;;
*) die "usage: kafka.sh start|kill|restart|stop DIR" ;;
esac
