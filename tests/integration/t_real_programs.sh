# Programs no one here wrote, under twshim: curl (client), python3's
# http.server (server), socat and nc.  TIME_WAIT counted by state, before
# and after.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
mkdir -p "$T/www" && echo hello >"$T/www/index.html"

# 1. curl against an HTTP/1.1 server that keeps connections open: curl
#    closes first, so TIME_WAIT is curl's.
bg python3 -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory "$T/www" 7070
wait_listen 7070
for i in 1 2 3 4 5; do curl -s -o /dev/null http://127.0.0.1:7070/; done
sleep 0.3
bare=$(tw_count "dport = :7070")
assert_eq "$bare" 5 "bare curl leaves TIME_WAIT"
for i in 1 2 3 4 5; do
	with_shim '[client *:7070];close = abort-if-idle' curl -s -o "$T/got" http://127.0.0.1:7070/
	assert_eq "$(cat "$T/got")" hello "curl got the page"
done
sleep 0.3
assert_eq "$(tw_count "dport = :7070")" "$bare" "shimmed curl left no TIME_WAIT"

# 2. python3 http.server (HTTP/1.0: the server closes first) under twshim.
with_shim '[accepted *:7071];close = abort-if-idle' \
    python3 -m http.server --bind 127.0.0.1 --directory "$T/www" 7071 >/dev/null 2>&1 &
_pids="$_pids $!"
wait_listen 7071
bg python3 -m http.server --bind 127.0.0.1 --directory "$T/www" 7072 >/dev/null 2>&1
wait_listen 7072
for i in 1 2 3 4 5; do
	curl -s -o /dev/null http://127.0.0.1:7071/
	curl -s -o /dev/null http://127.0.0.1:7072/
done
sleep 0.3
assert_eq "$(tw_count "sport = :7072")" 5 "bare server keeps TIME_WAIT"
assert_eq "$(tw_count "sport = :7071")" 0 "shimmed server keeps none"

# 3. nc as a client of an echo server: the data arrives, no TIME_WAIT.
echo_server 127.0.0.1 7073 "$T/echo.log"
echo "via nc" | with_shim '[client *];close = abort-if-idle' nc -q 1 127.0.0.1 7073 >"$T/nc"
assert_has "$T/nc" "ok" "nc talked"
sleep 0.3
assert_eq "$(tw_count "dport = :7073")" 0 "no TIME_WAIT from nc"
assert_has "$T/echo.log" "reset 7" "nc's 7 bytes arrived before the reset"

# 4. socat half-closes (shutdown) itself and so stays the active closer:
#    twshim cannot move that TIME_WAIT, but must pass every byte through.
head -c 300000 /dev/zero >"$T/blob"
with_shim '[client *];close = abort-if-idle' socat -u OPEN:"$T/blob" TCP:127.0.0.1:7073
sleep 0.3
assert_has "$T/echo.log" "eof 300000" "socat's 300000 bytes arrived, then EOF"
