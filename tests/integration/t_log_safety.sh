# The logger whatever the program gives it: a name of any length never
# overflows the line (it is cut), a descriptor 2 that became the program's
# data file gets no line (even one opened for appending, unless the user
# says fd 2 may be moved to a log), and TWSHIM_LOG_FILE opens nothing but a regular
# file, a terminal or a FIFO with a reader: never a planted link, never a
# wait before main.
. tests/integration/lib.sh

long500=$(head -c 500 /dev/zero | tr '\0' x)
long700=$(head -c 700 /dev/zero | tr '\0' y)

# 1. Long program names, at info level, with a bad policy at the default
# level, and through the launcher's -v and --dry-run.
TWSHIM_LOG=info env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
    bash -c 'exec -a "$0" /bin/true' "$long500" 2>"$T/e1"
assert_eq $? 0 "a 500-character name at info level"
assert_has "$T/e1" "twshim: xxxxxxxx" "the name starts the line"
assert_eq "$(awk 'length($0) > 511' "$T/e1" | wc -l)" 0 "no line longer than 512 bytes"
with_shim '[client *' bash -c 'exec -a "$0" /bin/true' "$long700" 2>"$T/e2"
assert_eq $? 0 "a 700-character name with a bad policy"
assert_eq "$(grep -c '^twshim: y\{255\}\[[0-9]*\]: error: policy <inline>:1:1' "$T/e2")" 1 \
    "one error line, the name cut to 255 characters"
for opt in -v --dry-run; do
	"$TW" "$opt" -e '[client *];close = abort' -- bash -c 'exec -a "$0" /bin/true' "$long500" \
	    2>"$T/e3"
	assert_eq $? 0 "twshim $opt with a 500-character name"
	assert_has "$T/e3" "twshim: xxxxxxxx" "twshim $opt logs for it"
done
# A newline in the name does not start a second line.
TWSHIM_LOG=info with_shim '[client *];close = abort' bash -c 'exec -a "$0" /bin/true' \
    "$(printf 'a\ntwshim: forged')" 2>"$T/e4"
cat "$T/e4"
assert_eq "$(grep -c '^twshim: forged' "$T/e4")" 0 "no forged line"
assert_has "$T/e4" "twshim: a?twshim: forged[" "the newline shown as ?"

# 2. A daemon closes 0-2 and opens its data file, which becomes fd 2: the
# info lines of its bind and listen stay out of it.
TWSHIM_LOG=info with_shim '[listener *];reuseaddr = yes' python3 -c '
import os, socket, sys
for fd in (0, 1, 2): os.close(fd)
os.open("/dev/null", os.O_RDONLY); os.open("/dev/null", os.O_WRONLY)
data = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.close()
os.write(data, b"data %d\n" % data)
' "$T/data" 2>/dev/null
assert_eq "$(cat "$T/data")" "data 2" "the data file holds the program's data alone"
# Nor when its data file is opened for appending: at level info, and at the
# default level with a warning (stats that cannot be written, at exit).
appending_daemon='
import os, socket, sys
for fd in (0, 1, 2): os.close(fd)
os.open("/dev/null", os.O_RDONLY); os.open("/dev/null", os.O_WRONLY)
data = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(data, b"data 1\n")
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.close()
os.write(data, b"data 2\n")
'
TWSHIM_LOG=info with_shim '[listener *];reuseaddr = yes' python3 -c "$appending_daemon" \
    "$T/adata" 2>/dev/null
cat "$T/adata"
assert_eq "$(cat "$T/adata")" "$(printf 'data 1\ndata 2')" \
    "an appended data file on fd 2, level info: the program's lines alone"
TWSHIM_STATS=$T/no/such/dir/stats with_shim '[listener *];reuseaddr = yes' \
    python3 -c "$appending_daemon" "$T/adata2" 2>/dev/null
cat "$T/adata2"
assert_eq "$(cat "$T/adata2")" "$(printf 'data 1\ndata 2')" \
    "an appended data file on fd 2, a warning at exit: the program's lines alone"
# A program that moves its stderr to a log file opened for appending keeps
# the lines there when the user says so, with TWSHIM_LOG_STDERR_FILE=1.
for moves in 1 ""; do
	rm -f "$T/applog"
	TWSHIM_LOG_STDERR_FILE=$moves TWSHIM_LOG=info with_shim '[listener *];reuseaddr = yes' \
	    python3 -c '
import os, socket, sys
log = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.dup2(log, 2)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); s.close()
' "$T/applog" 2>/dev/null
	if [ -n "$moves" ]; then
		assert_has "$T/applog" "bind 127.0.0.1" \
		    "TWSHIM_LOG_STDERR_FILE=1: the log file the program moved stderr to gets the lines"
	else
		assert_eq "$(wc -c <"$T/applog")" 0 "without it, that file gets nothing"
	fi
done

# 3. TWSHIM_LOG_FILE: a FIFO with no reader, a directory, a symbolic link
# (in a sticky, world-writable directory, where a link may be planted by
# anyone) are refused with a line on stderr, and the program runs at once.
mkfifo "$T/fifo"
mkdir -m 1777 "$T/sticky"
echo "root's own" >"$T/victim"
ln -s "$T/victim" "$T/sticky/log"
for target in "$T/fifo" "$T" "$T/sticky/log"; do
	TWSHIM_LOG_FILE=$target TWSHIM_LOG=info timeout 10 \
	    env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[client *];close = abort' \
	    sh -c 'echo ran' >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/err"
	assert_eq "$rc" 0 "TWSHIM_LOG_FILE=$target: no wait"
	assert_has "$T/out" "ran" "the program ran"
	assert_has "$T/err" "cannot open log file $target" "and the refusal is said on stderr"
done
assert_eq "$(cat "$T/victim")" "root's own" "the link's target untouched"
assert_has "$T/err" "symbolic link" "the link named as such"
# A FIFO with a reader is a log like a pipe (the test holds it open to read).
exec 7<>"$T/fifo"
TWSHIM_LOG_FILE="$T/fifo" TWSHIM_LOG=info timeout 10 \
    env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT='[client *];close = abort' true
timeout 5 head -n 1 <&7 >"$T/fifo.out"
exec 7<&-
assert_has "$T/fifo.out" "policy <inline> loaded" "a FIFO with a reader gets the lines"

# A terminal is a log too (a pseudo-terminal here, read on its master side).
python3 -c '
import os, pty, subprocess, sys
m, s = pty.openpty()
env = dict(os.environ, TWSHIM_LOG_FILE=os.ttyname(s), TWSHIM_LOG="info",
    TWSHIM_POLICY_TEXT="[client *];close = abort", LD_PRELOAD=sys.argv[1])
subprocess.run(["true"], env=env, timeout=10)
print(os.read(m, 4096).decode(errors="replace"))
' "${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" >"$T/tty.out" 2>&1 </dev/null
cat "$T/tty.out"
assert_has "$T/tty.out" "twshim: true[" "a terminal gets the lines"
