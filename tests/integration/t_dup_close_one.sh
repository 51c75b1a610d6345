# dup() then close() of one copy: the socket is still held, so the close
# strategy must not act on it.  With "graceful" a shim that forgot the dup
# would shut the socket down, and the write through the other copy would
# fail with EPIPE.
. tests/integration/lib.sh

echo_server 127.0.0.1 7001 "$T/server.log"
with_shim '[client *];close = graceful 1s' "$OPS" \
    sock a , connect a 127.0.0.1 7001 , dup b a , close a , \
    write b "after the first close\n" , readline b , close b >"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "readline: ok" "the server answered through the dup"
sleep 0.3
assert_has "$T/server.log" "eof 22" "all bytes arrived, then an orderly EOF"

# The same through fcntl(F_DUPFD) and F_DUPFD_CLOEXEC, in a program built
# with 64-bit file offsets, whose fcntl is glibc's fcntl64.
nm -D "$B/helpers/sockops64" | grep -q ' U fcntl64' || fail "sockops64 does not call fcntl64"
for op in dupfd dupfd_cloexec; do
	with_shim '[client *];close = graceful 1s' "$B/helpers/sockops64" \
	    sock a , connect a 127.0.0.1 7001 , $op b a 10 , close a , \
	    write b "after the first close\n" , readline b , close b >"$T/$op" 2>&1
	cat "$T/$op"
	assert_has "$T/$op" "readline: ok" "$op: the server answered through the duplicate"
done
