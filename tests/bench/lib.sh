# Helpers for the benchmarks (sourced). Runs are watched by reading the agent's log from a pipe as
# it comes, never by polling: on two cores a loop that forks grep / awk / sleep a hundred times a
# second takes CPU from the very run it measures (the sink benchmark ran 40% slower that way).

# Starts COMMAND... in the background, its output appended to LOG through a pipe, and reads it line
# by line until DONE (a function, given each line) returns 0; $run_pid is the process. Returns 1
# when the process ends first.
run_until() { # log done command...
    local log=$1 done_fn=$2 line fifo
    shift 2
    fifo=$(mktemp -u)
    mkfifo "$fifo"
    "$@" >"$fifo" 2>&1 &
    run_pid=$!
    exec 7<"$fifo"
    rm -f "$fifo"
    while IFS= read -r line <&7; do
        printf '%s\n' "$line" >>"$log"
        "$done_fn" "$line" && return 0
    done
    return 1
}

# After run_until: stops the process (SIGTERM) and keeps the rest of its output in LOG.
run_stop() { # log
    kill -TERM "$run_pid"
    cat <&7 >>"$1"
    exec 7<&-
    wait "$run_pid" || true
}
