# Files named in the environment, opened so that a link or a special file
# cannot hurt.  TWSHIM_LOG_FILE is reached through no symbolic link at all,
# not even a directory on its path, with openat2(2) and without it (a
# seccomp filter that answers ENOSYS).  A policy path that is a device or a
# FIFO is refused before anything opens it: no driver runs, no writer
# waiting on the FIFO is woken.
. tests/integration/lib.sh

# (a build of the old library may come without the helper: this tree's then)
NO2=$B/helpers/noopenat2
[ -x "$NO2" ] || NO2=$(realpath build/helpers/noopenat2)

# 1. TWSHIM_LOG_FILE through a symbolic link to a directory (planted in a
# sticky, world-writable directory): refused, said on stderr, nothing
# created where the link points.  A path with ".", ".." and "//" in it, and
# no link, still works.
mkdir -m 1777 "$T/sticky"
mkdir "$T/elsewhere" "$T/sub"
ln -s "$T/elsewhere" "$T/sticky/dir"
# shimmed CMD...: CMD under the library, behind the seccomp filter in the
# walk round (the filter's own process not preloaded).
shimmed() {
	$run env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
	    TWSHIM_POLICY_TEXT='[client *];close = abort' "$@"
}
for how in openat2 walk; do
	run=""
	[ "$how" = walk ] && run=$NO2
	rm -f "$T/elsewhere/log" "$T/log"
	TWSHIM_LOG_FILE=$T/sticky/dir/log TWSHIM_LOG=info shimmed sh -c 'echo ran' \
	    >"$T/out" 2>"$T/err"
	rc=$?
	cat "$T/err"
	assert_eq "$rc" 0 "$how: the program ran"
	assert_has "$T/out" "ran" "$how: its output"
	assert_has "$T/err" "cannot open log file $T/sticky/dir/log" "$how: the refusal is said"
	assert_has "$T/err" "a directory on its path is a symbolic link" "$how: and why"
	[ -e "$T/elsewhere/log" ] && fail "$how: a log file was created through the link"
	TWSHIM_LOG_FILE=$T/./sub//../log TWSHIM_LOG=info shimmed true 2>"$T/err2"
	assert_eq "$(wc -c <"$T/err2")" 0 "$how: nothing on stderr"
	assert_has "$T/log" "twshim: true[" "$how: a path with . and .. is a log"
	# A relative path, from the working directory.
	rm -f "$T/sub/rel"
	(cd "$T/sub" && TWSHIM_LOG_FILE=rel TWSHIM_LOG=info shimmed true)
	assert_has "$T/sub/rel" "twshim: true[" "$how: a relative path is a log"
	# The file itself a link: refused as before.
	ln -sf "$T/log" "$T/sub/link"
	TWSHIM_LOG_FILE=$T/sub/link TWSHIM_LOG=info shimmed true 2>"$T/err3"
	assert_has "$T/err3" "cannot open log file $T/sub/link: it is a symbolic link" \
	    "$how: a link as the file itself"
done

# 2. A policy path that names a character device (a node of our own, with
# /dev/null's numbers, so only this test opens it) or a FIFO: refused, and
# never opened.  inotify tells whether anything opened the node.
mknod "$T/dev" c 1 3
mkfifo "$T/fifo"
python3 - "$T/dev" "$T/opens" <<'PY' &
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN = 0x20
fd = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_OPEN)
open(sys.argv[2] + ".ready", "w").close()
n = 0
end = time.time() + 8
while time.time() < end and not os.path.exists(sys.argv[2] + ".stop"):
    try:
        buf = os.read(fd, 4096)
        n += buf.count(struct.pack("I", IN_OPEN))
    except BlockingIOError:
        time.sleep(0.02)
with open(sys.argv[2], "w") as f:
    f.write("%d\n" % n)
PY
watcher=$!
for _i in $(seq 1 100); do [ -e "$T/opens.ready" ] && break; sleep 0.05; done
"$TW" --check "$T/dev" 2>"$T/check"
assert_eq $? 1 "--check of a device fails"
cat "$T/check"
assert_has "$T/check" "not a regular file" "--check says why"
TWSHIM_POLICY=$T/dev env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" true 2>"$T/lib"
cat "$T/lib"
assert_has "$T/lib" "not a regular file" "the library says why"
sleep 0.3
touch "$T/opens.stop"
wait "$watcher"
assert_eq "$(cat "$T/opens")" 0 "the device node was never opened"
# The watcher sees an open when there is one (this test can fail).
python3 - "$T/dev" <<'PY'
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x20)
os.close(os.open(sys.argv[1], os.O_RDONLY))
assert len(os.read(fd, 4096)) > 0, "inotify saw no open"
PY
[ $? -eq 0 ] || fail "inotify does not see opens here"

# A writer waits in open() for the FIFO to get a reader: a check of the
# policy must not be that reader.
(exec 3>"$T/fifo"; echo woken >"$T/woken") &
writer=$!
_pids="$_pids $writer"
sleep 0.2
"$TW" --check "$T/fifo" 2>"$T/fcheck"
assert_eq $? 1 "--check of a FIFO fails"
TWSHIM_POLICY=$T/fifo env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" true 2>/dev/null
sleep 0.3
[ -e "$T/woken" ] && fail "the FIFO's writer was woken: something opened it"
cat "$T/fcheck"
assert_has "$T/fcheck" "not a regular file" "--check of a FIFO says why"
exec 4<"$T/fifo"	# let the writer go
exec 4<&-
true
