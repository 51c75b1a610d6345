# After fork() both processes hold the socket.  The child's close() must
# not shut it down (graceful would), or the parent's write would fail.
. tests/integration/lib.sh

echo_server 127.0.0.1 7004 "$T/server.log"
with_shim '[client *];close = graceful 1s' "$OPS" \
    sock a , connect a 127.0.0.1 7004 , fork_close a , \
    write a "parent still writes\n" , readline a , fork_exit , write a "and again\n" , \
    readline a , close a >"$T/out" 2>&1
cat "$T/out"
assert_eq "$(grep -c 'readline: ok' "$T/out")" 2 "the parent's socket survived the child"
sleep 0.3
assert_has "$T/server.log" "eof 30" "every byte arrived"
