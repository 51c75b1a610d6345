# The log goes to stderr (or TWSHIM_LOG_FILE) and nowhere else: never to
# stdout, never into a socket that took the number of a closed stderr, and
# the log descriptor never stands in the way of the program's own numbers.
. tests/integration/lib.sh

echo_server 127.0.0.1 7080 "$T/server.log"
# stderr closed at start: the client's socket is fd 2.  A shim logging to
# fd 2 would write its line into the connection (and take SIGPIPE).
"$TW" -v -e '[client *];close = normal' -- "$EX/legacy_client" -n 1 127.0.0.1 7080 >"$T/out" 2>&-
rc=$?
sleep 0.2
cat "$T/out" "$T/server.log"
assert_eq "$rc" 0 "the client ran as without twshim"
assert_has "$T/out" "1 of 1 requests completed" "its request went through"
assert_eq "$(cat "$T/server.log")" "eof 5" "the server got the 5 bytes of the request, nothing else"
assert_lacks "$T/out" "twshim:" "nothing on stdout"

# TWSHIM_LOG_FILE: the program's next descriptor is still 3, and a dup2()
# onto the log's number, then close(), does what the program meant (once
# such a close was swallowed, so a pipe never saw its end).
TWSHIM_LOG_FILE="$T/log" TWSHIM_LOG=info with_shim '[client *];close = abort' python3 -c '
import os, select, sys
r, w = os.pipe(); print("pipe", r, w)
def target(n):
    try: return os.readlink("/proc/self/fd/" + n)
    except OSError: return None	# the descriptor of the listing itself, gone by now
log = [int(n) for n in os.listdir("/proc/self/fd") if target(n) == sys.argv[1]][0]
print("log descriptor high:", log > 100)
os.dup2(w, log); os.close(w); os.close(log)
print("pipe end seen" if select.select([r], [], [], 1.0)[0] and os.read(r, 1) == b"" else "pipe still open")
' "$T/log" >"$T/pipe" 2>&1
cat "$T/pipe"
assert_has "$T/pipe" "pipe 3 4" "the program descriptors start at 3"
assert_has "$T/pipe" "log descriptor high: True" "the log sits above them"
assert_has "$T/pipe" "pipe end seen" "close() of the dup2()ed number closed it"
assert_has "$T/log" "twshim: python3[" "the log file has the shim's lines"

# A program that lets go of its stderr (a daemon: fork, the parent exits,
# the child points 1 and 2 at /dev/null and runs on): whoever reads its
# output must see the end at once.  A copy of stderr kept by the library
# would hold the pipe open for as long as the daemon lives.
start=$(date +%s%N)
out=$(with_shim '[client *];close = abort' python3 -c '
import os, time
if os.fork(): os._exit(0)
null = os.open("/dev/null", os.O_WRONLY); os.dup2(null, 1); os.dup2(null, 2)
time.sleep(3)
' 2>&1)
ms=$((($(date +%s%N) - start) / 1000000))
echo "the reader saw the end after $ms ms"
assert_le "$ms" 1500 "stderr released with the program's own descriptors"
