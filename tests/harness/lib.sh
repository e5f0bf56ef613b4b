# Shared helpers for the harness scripts (sourced, not run).

# Prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
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
