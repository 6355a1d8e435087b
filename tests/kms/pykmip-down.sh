#!/bin/bash
# Stops the PyKMIP server started by pykmip-up.sh DIR (by its pid file only). A polite SIGTERM
# takes PyKMIP ~11 s (10 s socket timeout), so after 1 s it is killed: it is a throw-away server.
#   tests/kms/pykmip-down.sh DIR
DIR="${1:?usage: pykmip-down.sh DIR}"
f="$DIR/pykmip.pid"
[[ -f "$f" ]] || exit 0
pid="$(cat "$f")"
# The server was started with setsid, so it leads its own process group;
# PyKMIP forks a worker per connection that outlives its parent, so signal
# the whole group.
if [[ -n "$pid" ]]; then
    kill -TERM -- "-$pid" 2>/dev/null
    for _ in 1 2 3 4 5; do
        pgrep -g "$pid" >/dev/null 2>&1 || break
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
fi
rm -f "$f" "$DIR/endpoint"
exit 0
