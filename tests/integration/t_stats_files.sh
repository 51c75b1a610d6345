# TWSHIM_STATS: written whole (a new file renamed into place) or not at
# all, never through a link, into a FIFO, a directory or a device; a
# failure said once on stderr; each process counts its own sockets; a path
# too long is refused, never cut to another file's name.
. tests/integration/lib.sh

echo_server 127.0.0.1 7085 "$T/server.log"
P='[client *];close = abort'
one_client="$OPS sock a , connect a 127.0.0.1 7085 , close a"

# A symbolic link planted in a sticky, world-writable directory at the
# name the stats will take: refused, its target untouched.
mkdir -m 1777 "$T/sticky"
echo "root only" >"$T/victim"
chmod 600 "$T/victim"
ln -s "$T/victim" "$T/sticky/app"
with_shim "$P" env TWSHIM_STATS="$T/sticky/app" $one_client >/dev/null 2>"$T/err"
cat "$T/err"
assert_eq "$(cat "$T/victim")" "root only" "the link's target untouched"
assert_has "$T/err" "cannot write stats to $T/sticky/app: it is a symbolic link" "refused, and said"

# A FIFO (no wait at exit), a device: refused, said once.  (A directory
# is now where live counters go: t_stats_live.)
mkfifo "$T/fifo"
for target in "$T/fifo" /dev/full; do
	timeout 10 env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT="$P" \
	    TWSHIM_STATS="$target" $one_client >/dev/null 2>"$T/err"
	rc=$?
	cat "$T/err"
	assert_eq "$rc" 0 "TWSHIM_STATS=$target: the program exits at once"
	assert_eq "$(grep -c "cannot write stats to $target" "$T/err")" 1 "one line says why"
done
[ -c /dev/full ] || fail "/dev/full replaced"

# A full file system: the write fails, the old file stays whole, and
# stderr says so (in a mount namespace of the test's own).
echo "pid=1" >"$T/keep"
unshare -m sh -c '
d=$1; shift
mkdir "$d/full" && mount -t tmpfs -o size=8k none "$d/full" || exit 99
cp "$d/keep" "$d/full/st"
dd if=/dev/zero of="$d/full/fill" bs=1k count=64 2>/dev/null
env TWSHIM_STATS="$d/full/st" "$@" 2>"$d/err"
cat "$d/full/st" >"$d/after"
ls -A "$d/full" >"$d/left"' sh "$T" env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
    TWSHIM_POLICY_TEXT="$P" $one_client >/dev/null
assert_eq $? 0 "the program ran on a full file system"
cat "$T/err"
assert_has "$T/err" "No space left on device" "a full file system is said on stderr"
assert_eq "$(cat "$T/after")" "pid=1" "the previous file left whole"
assert_eq "$(cat "$T/left" | tr '\n' ' ')" "fill st " "no temporary file left"

# A template longer than 4095 bytes is refused, not cut (cut, this one
# would name $T/statsfile).
prefix="$T/"
while [ $(( (4095 - ${#prefix} - 9) % 2 )) -ne 0 ]; do prefix="$prefix/"; done
while [ $(( ${#prefix} + 9 )) -lt 4095 ]; do prefix="$prefix./"; done
with_shim "$P" env TWSHIM_STATS="${prefix}statsfile-named-here" $one_client >/dev/null 2>"$T/err"
cat "$T/err"
[ -e "$T/statsfile" ] && fail "a cut template wrote $T/statsfile"
assert_has "$T/err" "TWSHIM_STATS is longer than 4095 bytes" "the refusal is said"

# A 5000-character program name keeps every counter.
long=$(head -c 5000 /dev/zero | tr '\0' x)
with_shim "$P" env TWSHIM_STATS="$T/long" bash -c 'exec -a "$0" "$@"' "$long" $one_client >/dev/null
assert_eq "$(stat_of role_client "$T/long")" 1 "the counters follow a long name"
assert_eq "$(stat_of program "$T/long" | wc -c)" 256 "the name, cut to 255 characters"

# A forked child counts from zero: the totals over the files are the
# process tree's.
with_shim "$P" env TWSHIM_STATS="$T/f.%p" $one_client , fork_exit >/dev/null
assert_eq "$(ls "$T"/f.* | wc -l)" 2 "a file for the parent and the child"
assert_eq "$(cat "$T"/f.* | sed -n 's/^role_client=//p' | awk '{s += $1} END {print s}')" 1 \
    "one client in all"

# Without %p, a shell and a command that made no socket leave the file of
# the process that did alone.
with_shim "$P" env TWSHIM_STATS="$T/shared" sh -c "$one_client >/dev/null; ls >/dev/null"
assert_eq "$(stat_of program "$T/shared")" sockops "the file is the client's"
assert_eq "$(stat_of role_client "$T/shared")" 1 "with its counters"

# Every way out that runs code leaves the process's file: a forked child
# that leaves by _exit() (as most do), one made by _Fork() that leaves by
# _exit(), one made by clone() that returns; only the parent's exec is
# without a file (below).
with_shim "$P" env TWSHIM_STATS="$T/e.%p" python3 -c '
import ctypes, os, socket
libc = ctypes.CDLL(None, use_errno=True)
pids = []
pid = os.fork()
if pid == 0:
    socket.create_connection(("127.0.0.1", 7085)).close()
    os._exit(0)
pids.append(pid)
pid = libc._Fork()
if pid == 0:
    os._exit(0)
pids.append(pid)
for p in pids:
    os.waitpid(p, 0)
print(" ".join(map(str, pids)))
' >"$T/kids"
read -r forked forked_raw <"$T/kids"
ls "$T"/e.*
[ -f "$T/e.$forked" ] || fail "no file for the child that left by _exit()"
assert_eq "$(stat_of role_client "$T/e.$forked")" 1 "its connection"
[ -f "$T/e.$forked_raw" ] || fail "no file for the _Fork() child"
assert_eq "$(stat_of pid "$T/e.$forked_raw")" "$forked_raw" "the _Fork() child's own file"
with_shim "$P" env TWSHIM_STATS="$T/c.%p" "$OPS" clone_files >/dev/null
assert_eq "$(ls "$T"/c.* | wc -l)" 2 "a file for the clone() child too"

# exec runs no exit code: the program a process becomes writes the file.
with_shim "$P" env TWSHIM_STATS="$T/x.%p" python3 -c '
import os, socket
socket.create_connection(("127.0.0.1", 7085)).close()
os.execv("/bin/true", ["true"])'
f=$(grep -l "^program=true$" "$T"/x.*)
assert_eq "$(echo "$f" | wc -w)" 1 "a file written by the program exec made"
assert_eq "$(stat_of role_client "$f")" 0 "which counts from zero"
assert_eq "$(cat "$T"/x.* | grep -c "^role_client=[1-9]")" 0 "the connection before exec is in no file"

# Each write is a new file renamed into place: a reader holds the old one
# whole or the new one whole, never one being written.
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT="$P" \
    TWSHIM_STATS="$T/live" TWSHIM_STATS_SIGNAL=1 \
    "$OPS" sock a , connect a 127.0.0.1 7085 , sleep 4000 , close a >/dev/null &
p=$!
# Connected means past the constructor, where the handler is set.
for i in $(seq 1 100); do
	[ "$(ss -Htn state established '( dport = :7085 )' | wc -l)" -ge 1 ] && break
	sleep 0.05
done
kill -USR2 $p
for i in $(seq 1 100); do [ -s "$T/live" ] && break; sleep 0.05; done
exec 8<"$T/live"	# the file as it is now, held open
partial=0
for i in $(seq 1 200); do
	kill -USR2 $p
	grep -q "^tracked_at_exit=" "$T/live" || partial=$((partial + 1))
done
links=$(stat -L -c %h /dev/fd/8)
held=$(grep -c "^tracked_at_exit=" <&8)
exec 8<&-
wait $p
assert_eq "$partial" 0 "no read saw a partial file"
assert_eq "$links" 0 "the file held open was replaced, not rewritten in place"
assert_eq "$held" 1 "and is still whole"
assert_eq "$(ls -A "$T" | grep -c '\.tmp\.')" 0 "no temporary file left"
