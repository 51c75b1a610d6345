# dup2(fd, fd) on a tracked socket changes nothing (the kernel only checks
# that fd is open) and must leave the library's state of the socket alone:
# its close strategy still applies at close(), which is now the only place
# an abort is set.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
echo_server 127.0.0.1 7340 "$T/server.log"
wait_listen 7340
ops="sock a , connect a 127.0.0.1 7340 , write a hello\n , readline a"

with_shim '[client *];close = abort' "$OPS" $ops , dup2 a a , close a >"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "dup2: " "dup2 onto itself ran"
assert_lacks "$T/out" "dup2: -1" "dup2 onto itself succeeded"
sleep 0.3
assert_eq "$(grep -c '^reset' "$T/server.log")" 1 "the close after dup2(fd, fd) was still an abort"
assert_eq "$(tw_count "dport = :7340")" 0 "no TIME_WAIT on the client"
