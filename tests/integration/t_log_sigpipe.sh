# A log line that meets a pipe or FIFO nobody reads any more must not kill
# the program with SIGPIPE: the program did not write there, and bare it
# exits 0.  A SIGPIPE the program itself causes is still delivered, and one
# it already had pending stays pending.
. tests/integration/lib.sh

# run_broken MODE CMD...: run CMD with SIGPIPE at its default action and,
# for MODE stderr, standard error a pipe whose reader is gone; for MODE fifo,
# TWSHIM_LOG_FILE a FIFO whose reader goes away after the first line.
# Prints "rc N" (negative: killed by that signal).
run_broken() {
	python3 - "$@" <<'PY'
import os, subprocess, sys, time
mode, cmd = sys.argv[1], sys.argv[2:]
env = dict(os.environ)
if mode == "stderr":
    r, w = os.pipe()
    os.close(r)
    p = subprocess.Popen(cmd, stderr=w, env=env)
    os.close(w)
else:
    fifo = os.environ["FIFO"]
    r = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    env["TWSHIM_LOG_FILE"] = fifo
    p = subprocess.Popen(cmd, env=env)
    got = b""
    end = time.time() + 10
    while b"\n" not in got and time.time() < end:
        try:
            got += os.read(r, 4096)
        except BlockingIOError:
            time.sleep(0.01)
    print("first line:", got.decode(errors="replace").splitlines()[0] if got else "none")
    os.close(r)
print("rc", p.wait(timeout=20))
PY
}

PRE=${PRELOAD_FIRST:+$PRELOAD_FIRST }

# 1. TWSHIM_LOG_FILE a FIFO whose reader left: the lines after the first
# meet no reader.
mkfifo "$T/fifo"
FIFO=$T/fifo TWSHIM_LOG=info run_broken fifo env LD_PRELOAD="$PRE$LIB" \
    TWSHIM_POLICY_TEXT='[listener *];reuseaddr = yes' \
    "$OPS" sleep 300 , sock a , bind a 127.0.0.1 0 , listen a 5 , close a >"$T/a" 2>&1
cat "$T/a"
assert_has "$T/a" "first line: twshim: sockops[" "the FIFO had a reader at first"
assert_has "$T/a" "rc 0" "a FIFO whose reader left: the program exits 0"

# 2. Standard error a pipe whose reader left, at level info.
TWSHIM_LOG=info run_broken stderr env LD_PRELOAD="$PRE$LIB" \
    TWSHIM_POLICY_TEXT='[listener *];reuseaddr = yes' \
    "$OPS" sock a , bind a 127.0.0.1 0 , listen a 5 , close a >"$T/b" 2>&1
cat "$T/b"
assert_has "$T/b" "rc 0" "a stderr pipe with no reader, level info: the program exits 0"

# 3. At the default level: the one warning at exit, that stats cannot be
# written, meets the same pipe.
TWSHIM_STATS=$T/no/such/dir/stats run_broken stderr env LD_PRELOAD="$PRE$LIB" \
    TWSHIM_POLICY_TEXT='[client *];close = abort' "$OPS" sock a , close a >"$T/c" 2>&1
cat "$T/c"
assert_has "$T/c" "rc 0" "a stats warning at exit into a dead pipe: the program exits 0"

# The same runs bare, for comparison: all exit 0.
run_broken stderr "$OPS" sock a , close a >"$T/bare" 2>&1
assert_has "$T/bare" "rc 0" "bare"

# 4. The program's own SIGPIPE is still its own: a write of its own into
# the dead pipe kills it as it would without twshim.
TWSHIM_LOG=info run_broken stderr env LD_PRELOAD="$PRE$LIB" \
    TWSHIM_POLICY_TEXT='[listener *];reuseaddr = yes' \
    sh -c 'echo own >&2; echo survived' >"$T/own" 2>&1
cat "$T/own"
assert_has "$T/own" "rc -13" "the program's own write still gets SIGPIPE"
assert_lacks "$T/own" "survived" "and stops it"

# 5. A SIGPIPE the program has blocked and pending before a log line stays
# pending after it (the library takes back only the one it caused), and one
# the library caused while the program blocks SIGPIPE is not left pending.
cat >"$T/pending.c" <<'C'
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	sigset_t set, pend;
	int fd;
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (argc > 1)
		raise(SIGPIPE);
	/* bind and listen: lines at level info */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sin, sizeof sin);
	listen(fd, 5);
	close(fd);
	sigpending(&pend);
	printf("pending %d\n", sigismember(&pend, SIGPIPE));
	return 0;
}
C
cc -o "$T/pending" "$T/pending.c" || fail "cc"
for arg in own ""; do
	TWSHIM_LOG=info run_broken stderr env LD_PRELOAD="$PRE$LIB" \
	    TWSHIM_POLICY_TEXT='[listener *];reuseaddr = yes' "$T/pending" $arg >"$T/p" 2>&1
	cat "$T/p"
	assert_has "$T/p" "rc 0" "the program exits 0"
	if [ -n "$arg" ]; then
		assert_has "$T/p" "pending 1" "the program's own pending SIGPIPE is kept"
	else
		assert_has "$T/p" "pending 0" "none is left behind by the library"
	fi
done
