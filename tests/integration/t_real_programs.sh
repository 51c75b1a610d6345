# Programs no one here wrote, under twshim: curl and nc (clients), socat
# (server and client), python3's http.server (the server curl talks to).  TIME_WAIT counted by state, before
# and after.
. tests/integration/lib.sh

sysctl -qw net.ipv4.tcp_tw_reuse=0
mkdir -p "$T/www" && echo hello >"$T/www/index.html"

# 1. curl against an HTTP/1.1 server that keeps connections open: curl
#    closes first, so TIME_WAIT is curl's.  (Debian's curl hangs in
#    setlocale() with libasan preloaded even without twshim, so the ASan
#    pass leaves it out.)
if [ "${SANITIZER:-plain}" != asan ]; then
bg python3 -m http.server --protocol HTTP/1.1 --bind 127.0.0.1 --directory "$T/www" 7070 2>/dev/null
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
fi

# 2. socat as a one-connection server that answers and exits, leaving the
#    socket to the kernel (it shuts it down and never calls close()); the
#    client reads to the end and closes half a second later.  Bare, TIME_WAIT
#    stays with socat's port; under twshim abort-if-idle acts at exit.
get() {
	python3 -c '
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
data = b""
try:
    while True:
        b = c.recv(4096)
        if not b: break
        data += b
except ConnectionResetError: pass
print(data.decode().strip()); sys.stdout.flush(); time.sleep(0.5)
' "$1"
}
for i in 1 2 3; do
	socat TCP-LISTEN:7072,reuseaddr,shut-none OPEN:"$T/www/index.html",rdonly &
	s=$!
	wait_listen 7072
	assert_eq "$(get 7072)" hello "the bare server answered"
	wait $s
	with_shim '[accepted *];close = abort-if-idle' \
	    socat TCP-LISTEN:7071,reuseaddr,shut-none OPEN:"$T/www/index.html",rdonly &
	s=$!
	wait_listen 7071
	assert_eq "$(get 7071)" hello "the shimmed server answered, every byte"
	wait $s
done
sleep 0.3
assert_eq "$(tw_count "sport = :7072")" 3 "the bare server keeps TIME_WAIT"
assert_eq "$(tw_count "sport = :7071")" 0 "the shimmed server keeps none"

# 3. nc and socat as clients.  Both half-close (shutdown) when their input
#    ends, which makes them the active closers before any close(): twshim
#    cannot move that TIME_WAIT, and must not reset what is already closing.
#    Every byte must get through.
echo_server 127.0.0.1 7073 "$T/echo.log"
echo "via nc" | with_shim '[client *];close = abort-if-idle' nc -q 1 127.0.0.1 7073 >"$T/nc"
assert_has "$T/nc" "ok" "nc talked"
sleep 0.3
assert_has "$T/echo.log" "eof 7" "nc's 7 bytes arrived, then an orderly EOF"
head -c 300000 /dev/zero >"$T/blob"
with_shim '[client *];close = abort-if-idle' socat -u OPEN:"$T/blob" TCP:127.0.0.1:7073
sleep 0.3
assert_has "$T/echo.log" "eof 300000" "socat's 300000 bytes arrived, then EOF"
