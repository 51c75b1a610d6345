# The reaper's own descriptors (its epoll instance, its wake-up pair, the
# duplicates it finishes closes on) sit at high numbers that a program may
# close where the library cannot see: a raw close_range system call here.
# The reaper must then leave alone what the program puts on those numbers,
# a close() of one must really close it, and the reaper must not spin on
# its closed epoll instance.
. tests/integration/lib.sh

echo_server 127.0.0.1 7320 "$T/server.log"
# The helper waits on one close, fills the numbers below the floor, closes
# everything from the floor up with the raw system call, then puts a pipe
# and eight sockets there and uses them past the reaper's 2 s deadline.
with_shim '[client *];close = peer-first 2s' sh -c \
    'ulimit -n 64 && exec "$0" stale 7320' "$B/helpers/ownfds" >"$T/stale" 2>&1
cat "$T/stale"
assert_has "$T/stale" "raw_close_range: 0" "the raw close_range ran"
assert_has "$T/stale" "close_pipe: 0" "close() of a reused number succeeded"
assert_has "$T/stale" "pipe_still_open: 0" "and really closed it"
assert_has "$T/stale" "sockets_working: 8 of 8" "the program's sockets on reused numbers were left alone"
assert_le "$(value cpu_ms "$T/stale")" 500 "no spinning on a closed epoll instance (CPU ms in 2.5 s)"
assert_has "$T/stale" "close_range_stale: 0 errno 12345" "close_range() over the stale numbers kept errno"
