# close_range() flags: CLOSE_RANGE_UNSHARE in a worker thread closes the
# range in the worker's private copy of the descriptor table only, so the
# main thread's socket stays usable and is neither closed nor reset; an
# unknown flag goes to the kernel untouched (EINVAL, nothing closed).
. tests/integration/lib.sh

echo_server 127.0.0.1 7090 "$T/server.log"
"$B/helpers/unshareclose" 7090 >"$T/bare" 2>&1
with_shim '[client *];close = abort-if-idle' "$B/helpers/unshareclose" 7090 >"$T/shim" 2>&1
sleep 0.3
cat "$T/bare" "$T/shim" "$T/server.log"
for f in bare shim; do
	assert_has "$T/$f" "unshare close_range: 0" "$f: close_range with CLOSE_RANGE_UNSHARE"
	assert_has "$T/$f" "main write after unshare: 5" "$f: the main thread's socket still works"
	assert_has "$T/$f" "main close: 0" "$f: and closes"
	assert_has "$T/$f" "close_range flag 0x80: -1 Invalid argument" "$f: an unknown flag is refused"
	assert_has "$T/$f" "write after bad flag: 2" "$f: ... and closed nothing"
	assert_has "$T/$f" "close after bad flag: 0" "$f: ... the socket is still open"
done
# The main thread's socket is shared with the worker's table now: a plain close.
assert_eq "$(grep -c '^eof 5$' "$T/server.log")" 2 "both runs delivered the main thread's data in order"
# After the bad flag the socket closes as the policy says (abort-if-idle
# resets it, idle once "hi" is acknowledged), but only after its data.
assert_eq "$(grep -cE '^(eof|reset) 2$' "$T/server.log")" 2 "both runs delivered the data after the bad flag"
assert_eq "$(grep -c '^reset 0$' "$T/server.log")" 0 "no socket was reset before its data"

# A range that holds only the shim's own descriptor (its log file): the
# unsharing is still done, so a later close in the worker's table leaves
# the main thread's descriptors alone.
with_shim '[client *];close = abort' env TWSHIM_LOG_FILE="$T/own.log" python3 -c '
import ctypes, os, threading, fcntl
libc = ctypes.CDLL(None, use_errno=True)
def link(f):
    try: return os.readlink("/proc/self/fd/" + f)
    except OSError: return ""
own = [int(f) for f in os.listdir("/proc/self/fd") if link(f).endswith("own.log")][0]
r, w = os.pipe()
def worker():
    print("close_range", libc.close_range(own, own, 2))
    libc.syscall(3, r)      # SYS_close, in the worker table only
t = threading.Thread(target=worker); t.start(); t.join()
try:
    fcntl.fcntl(r, fcntl.F_GETFD); print("main keeps the pipe")
except OSError as e:
    print("main lost the pipe:", e)
' >"$T/own" 2>&1
cat "$T/own"
assert_has "$T/own" "close_range 0" "close_range over the shim's own descriptor"
assert_has "$T/own" "main keeps the pipe" "the worker's table was unshared"
echo ok
