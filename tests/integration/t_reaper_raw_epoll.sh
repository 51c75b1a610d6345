# A limit, as twshim(1) CAVEATS states it: an epoll registration made through the
# raw epoll_ctl system call is not seen by the library, so under a waiting
# close strategy it outlives close() (the socket lives on in the reaper)
# and epoll_wait reports the old number, now a pipe's.  Bare, the
# registration dies with the close.
. tests/integration/lib.sh

echo_server 127.0.0.1 7350 "$T/server.log"
"$B/helpers/ownfds" rawepoll 7350 >"$T/bare" 2>&1
with_shim '[client *];close = peer-first 2s' "$B/helpers/ownfds" rawepoll 7350 >"$T/shim" 2>&1
cat "$T/bare" "$T/shim"
assert_has "$T/bare" "pipe_on_same_number: 1" "bare: the pipe took the number"
assert_has "$T/bare" "reported: 0" "bare: nothing reported"
assert_has "$T/shim" "pipe_on_same_number: 1" "shimmed: the pipe took the number"
assert_has "$T/shim" "reported: 1" "shimmed: the registration outlived close(), as documented"
