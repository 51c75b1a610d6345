# dup2() onto every number up to the limit with a close pending: the
# reaper's descriptors are moved out of the way until there is nowhere left
# to go.  Then the pending close must get its fallback at once (here abort:
# a reset), and the reaper must stop cleanly, not spin on a number that is
# no longer its epoll instance.
. tests/integration/lib.sh

echo_server 127.0.0.1 7321 "$T/server.log"
with_shim '[client *];close = peer-first 1s then abort' sh -c \
    'ulimit -n 64 && exec "$0" fill 7321' "$B/helpers/ownfds" >"$T/fill" 2>&1
cat "$T/fill" "$T/server.log"
assert_has "$T/fill" "dup2_done: 60" "every dup2() succeeded"
assert_le "$(value cpu_ms "$T/fill")" 500 "no spinning on a lost epoll instance (CPU ms in 2.5 s)"
assert_has "$T/server.log" "reset 3" "the pending close got its fallback, abort"
