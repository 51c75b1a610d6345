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
