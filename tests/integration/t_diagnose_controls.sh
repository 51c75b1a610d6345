# --diagnose prints the command lines of the processes it names, which
# their owners choose: a control character there (a terminal escape) must
# not reach the terminal of whoever runs it.  A client holds a connection
# to a destination with TIME_WAIT, one of its arguments an escape that
# would clear the screen; the output shows it as '?'.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
bg "$EX/legacy_server" 7211 >/dev/null
wait_listen 7211
"$EX/legacy_client" -n 5 127.0.0.1 7211 >/dev/null
esc=$(printf '\033[2J')
bg python3 -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", 7211)); time.sleep(30)' "$esc"
for i in $(seq 1 50); do
	ss -Htn state established "dport = :7211" | grep -q . && break
	sleep 0.1
done
"$TW" --diagnose >"$T/out" 2>&1
grep -n "python3" "$T/out"
if grep -q "$(printf '\033')" "$T/out"; then
	fail "an escape byte reached the output"
fi
assert_has "$T/out" "?[2J" "the escape shown as '?'"
echo ok
