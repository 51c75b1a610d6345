# vfork() children share the parent's memory, table included: a child's
# close() must not untrack the parent's socket.  posix_spawn/system/popen
# children inherit sockets without fork handlers running: the parent's
# close must then not shut the socket down under the child.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7061 "$T/server.log"
# The child closes while the server's answer is still unread (not idle: a
# plain close, and a shim without the vfork check untracks the socket
# then); the parent reads the answer and closes an idle socket, which
# abort-if-idle resets.  Untracked by the child, it would close in order.
with_shim '[client *];close = abort-if-idle' env TWSHIM_STATS="$T/stats" "$OPS" \
    sock a , connect a 127.0.0.1 7061 , write a "hi\n" , sleep 100 , vfork_close a , \
    readline a , write a "again\n" , readline a , close a >"$T/out" 2>&1
cat "$T/out" "$T/stats"
assert_eq "$(grep -c 'readline: ok' "$T/out")" 2 "the parent's socket works after the vfork child"
sleep 0.2
assert_has "$T/server.log" "reset 9" "still tracked in the parent: its close was the strategy's"

# system("sleep 1 &") inherits the socket; graceful would shut it down.
with_shim '[client *];close = graceful 1s' env TWSHIM_STATS="$T/stats2" "$OPS" \
    sock a , connect a 127.0.0.1 7061 , spawn_hold a 1000 , close a >"$T/out2" 2>&1
cat "$T/out2" "$T/stats2"
assert_eq "$(stat_of close_shared "$T/stats2")" 1 "the close saw the socket as shared"
assert_eq "$(stat_of close_graceful "$T/stats2")" 0 "and did not shut it down"
sleep 0.2
assert_eq "$(grep -c '^eof 0' "$T/server.log")" 0 "the child still holds the connection"
sleep 1.2
assert_eq "$(grep -c '^eof 0' "$T/server.log")" 1 "closed once the child exited"
