# SPDX-License-Identifier: MIT
# Shared by deploy/local/up and deploy/local/down (sourced, not run): where the local stack
# lives and how its processes are found and stopped. A process counts as ours only when its
# pid file names it, it is alive, its name is the expected one and its command line points
# into this repository's var/, so a stale pid file can never make us signal a stranger.
# shellcheck shell=bash disable=SC2034  # the variables are used by the sourcing scripts

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd -P)
VAR=$ROOT/var   # everything the local stack writes: data, sockets, pids, logs, config
RUN=$VAR/run    # sockets and pid files
LOG=$VAR/log

# The pieces, in start order: pid file name -> process name (/proc/PID/comm).
# farmlokal-external is the pool nginx sends /api/products/external/ to.
PIECES=(mysqld redis farmlokal farmlokal-external nginx)
declare -A COMM=([mysqld]=mariadbd [redis]=redis-server [farmlokal]=farmlokal
    [farmlokal-external]=farmlokal [nginx]=nginx)
# Seconds a piece gets to stop after SIGTERM before SIGKILL (InnoDB needs the longest;
# farmlokal workers finish their current request first).
declare -A GRACE=([mysqld]=60 [redis]=10 [farmlokal]=30 [farmlokal-external]=30 [nginx]=10)

say() { printf '%s: %s\n' "$PROG" "$*"; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

# Serialise up and down: one of them at a time per var/. Whatever they start must not
# inherit fd 9 (`9>&-`), or the lock would outlive them.
take_lock() {
    mkdir -p -- "$VAR"
    exec 9>"$VAR/.lock"
    flock -w 120 9 || die "another deploy/local/up or down is still running"
}

# close_inherited_fds: closes descriptors above 2 that the caller left open without
# close-on-exec (a CI runner's pipes, say), so that the daemons started here do not hold them
# for their whole life. Bash's own descriptors are close-on-exec and stay.
close_inherited_fds() {
    local f fd flags
    for f in "/proc/$$/fdinfo"/*; do
        fd=${f##*/}
        [ "$fd" -gt 2 ] || continue
        flags=$(sed -n 's/^flags:[[:space:]]*//p' "$f" 2>/dev/null) || continue
        [[ $flags =~ ^[0-7]+$ ]] || continue
        ((8#$flags & 8#2000000)) && continue   # O_CLOEXEC
        eval "exec $fd>&-"
    done
}

# alive PID: the process exists and is not a zombie.
alive() {
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "${st%% *}" != Z ]
}

# ours PID COMM: alive, named COMM, and its command line refers to this var/.
ours() {
    local pid=$1 comm=$2 name cmd
    alive "$pid" || return 1
    name=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
    [ "$name" = "$comm" ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$VAR/"* ]]
}

# running PIECE: prints the pid of the piece when it is running, else fails.
running() {
    local f=$RUN/$1.pid pid
    [ -r "$f" ] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    ours "$pid" "${COMM[$1]}" || return 1
    printf '%s\n' "$pid"
}

# children PID: direct children (farmlokal or nginx workers), so they can be checked and,
# if the master dies without taking them along, stopped as well.
children() {
    cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | grep -E '^[0-9]+$' || true
}

# stop_pids COMM GRACE PID...: SIGTERM the first pid (the master), wait up to GRACE seconds
# for all of them to be gone, then SIGKILL whatever is left that is still a COMM.
stop_pids() {
    local comm=$1 grace=$2 master=$3 pid left i
    shift 2
    kill -TERM "$master" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        left=0
        for pid in "$@"; do alive "$pid" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.1
    done
    for pid in "$@"; do
        if alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ]; then
            say "$comm (pid $pid) did not stop within ${grace}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for ((i = 0; i < 50; i++)); do
        left=0
        for pid in "$@"; do alive "$pid" && left=1; done
        [ "$left" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

# stop_piece PIECE: stops the piece (and its direct children) if it runs, removes its pid file.
stop_piece() {
    local piece=$1 pid kids
    if pid=$(running "$piece"); then
        say "stopping $piece (pid $pid)"
        mapfile -t kids < <(children "$pid")
        stop_pids "${COMM[$piece]}" "${GRACE[$piece]}" "$pid" "${kids[@]}" ||
            say "warning: $piece (pid $pid) is still there"
    fi
    rm -f -- "$RUN/$piece.pid"
}
