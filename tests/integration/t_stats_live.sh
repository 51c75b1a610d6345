# TWSHIM_STATS=DIR: live counters, one file per program, that processes
# add to in place.  "twshim --stats DIR" reads them mid-run without a
# signal; a forked child's counts are not the parent's twice; a process
# that never had a TCP socket (a shell, a subshell, wc) leaves no file;
# a program's totals only grow as its processes come and go, even killed;
# the file is never reached through a link, nor taken when another
# user's or not one of ours.
. tests/integration/lib.sh

D=$T/live
mkdir "$D"
P='[client *];close = abort'
echo_server 127.0.0.1 7395 "$T/server.log"
wait_listen 7395
shim() { with_shim "$P" env TWSHIM_STATS="$D" "$@"; }
# total PROGRAM DESCRIPTION: a summed counter from the text of --stats.
total() {
	"$TW" --stats "$D" 2>/dev/null | sed -n "/^$1:/,/^[^ ]/p" | awk -v d="$2" 'index($0, d) {print $1}'
}

# Mid-run, no signal: the connection is there before the close is.
shim "$OPS" sock a , connect a 127.0.0.1 7395 , sleep 1500 , close a >/dev/null &
p=$!
for i in $(seq 1 100); do
	[ "$(ss -Htn state established '( dport = :7395 )' | wc -l)" -ge 1 ] && break
	sleep 0.05
done
assert_eq "$(total sockops "sockets that became clients")" 1 "a client counted, live"
assert_eq "$(total sockops "closes with abort")" "" "no close yet"
kill -0 $p || fail "the program still runs"
wait $p
assert_eq "$(total sockops "closes with abort")" 1 "the close, once it is made"

# No signal is taken, even when asked for: SIGUSR2 keeps its default.
with_shim "$P" env TWSHIM_STATS="$D" TWSHIM_STATS_SIGNAL=USR2 \
    "$OPS" sock a , connect a 127.0.0.1 7395 , sleep 3000 , close a >/dev/null 2>&1 &
p=$!
sleep 0.7
kill -USR2 $p
wait $p
assert_eq "$?" $((128 + 12)) "SIGUSR2 has its default action"

# Removing the file starts the program's totals from zero: a process
# still running counts into the removed file, a new one makes a new file.
rm -f "$D"/*
shim "$OPS" sock a , connect a 127.0.0.1 7395 , close a >/dev/null
shim "$OPS" sock a , connect a 127.0.0.1 7395 , sleep 1000 , close a >/dev/null &
p=$!
sleep 0.5
assert_eq "$(total sockops "sockets that became clients")" 2 "two clients"
rm -f "$D"/*
wait $p
assert_eq "$(ls -A "$D" | wc -l)" 0 "no file made again by the running process"
shim "$OPS" sock a , connect a 127.0.0.1 7395 , close a >/dev/null
assert_eq "$(total sockops "sockets that became clients")" 1 "a new file from zero"

# A program whose files show no connection at all (a listener that never
# accepted, as nginx's master alone looked when its workers' files were
# lost) is named in a warning; the counters are printed all the same.
rm -f "$D"/*
shim "$OPS" sock l , bind l 127.0.0.1 7397 , listen l 5 , close l >/dev/null
"$TW" --stats "$D" >"$T/text" 2>"$T/err"
assert_eq "$?" 0 "--stats still succeeds"
cat "$T/err"
assert_has "$T/err" "twshim: warning: sockops: no connection counted in 1 process" "the warning"
assert_has "$T/text" "sockets that became listeners" "the counters printed"

# A forked child shares the file: one client in all, two processes.
rm -f "$D"/*
shim "$OPS" sock a , connect a 127.0.0.1 7395 , fork_exit , close a >/dev/null
"$TW" --stats "$D" >"$T/text"
cat "$T/text"
assert_has "$T/text" "sockops: 2 processes" "the parent and its child"
assert_eq "$(total sockops "sockets that became clients")" 1 "the parent's client, not twice"

# Children that leave by _exit(), by _Fork() then _exit(), and one killed:
# what each did is in the file, since it was there when done.
rm -f "$D"/*
shim python3 -c '
import ctypes, os, signal, socket, sys, time
def child(make):
    pid = make()
    if pid == 0:
        socket.create_connection(("127.0.0.1", 7395)).close()
        os._exit(0)
    os.waitpid(pid, 0)
child(os.fork)
pid = os.fork()
if pid == 0:
    socket.create_connection(("127.0.0.1", 7395))
    time.sleep(60)
time.sleep(0.5)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
'
"$TW" --stats "$D" >"$T/text"
cat "$T/text"
assert_eq "$(total python3 "sockets that became clients")" 2 \
    "the _exit() child's and the killed child's connections"

# A script of 200 curl calls, in subshells, pipes and command
# substitutions: one file, curl's; none for the shell or wc.  (Under
# ASan, where curl does not start, 50 of sockops's connections instead.)
n=200 prog=curl GET="curl -s http://127.0.0.1:7396/"
if [ "${SANITIZER:-plain}" = asan ]; then
	n=50 prog=sockops GET="$OPS sock a , connect a 127.0.0.1 7396 , close a"
fi
export GET
rm -f "$D"/*
mkdir "$T/www" && echo hello >"$T/www/index.html"
(cd "$T/www" && exec python3 -m http.server --bind 127.0.0.1 7396 >/dev/null 2>&1) &
_pids="$_pids $!"
wait_listen 7396
cat >"$T/script.sh" <<'SH'
for i in $(seq 1 $1); do
	case $((i % 4)) in
	0) ( $GET >/dev/null ) ;;
	1) $GET | wc -c >/dev/null ;;
	2) x=$($GET) ;;
	*) sh -c '$GET >/dev/null' ;;
	esac
done
SH
shim sh "$T/script.sh" $n
ls -la "$D"
assert_eq "$(ls -A "$D" | wc -l)" 1 "one file"
assert_eq "$(ls -A "$D" | grep -c "^$prog\\.")" 1 "and it is $prog's"
assert_eq "$(find "$D" -type f -empty | wc -l)" 0 "no empty file"
"$TW" --stats "$D" >"$T/text"
cat "$T/text"
assert_has "$T/text" "$prog: $n processes" "$n $prog processes"
assert_eq "$(total $prog "sockets that became clients")" $n "$n connections"

# The total only grows: the processes are gone, more come and go.
before=$(total $prog "sockets that became clients")
for i in 1 2 3; do shim $GET >/dev/null; done
assert_eq "$(total $prog "sockets that became clients")" $((before + 3)) "the total went on"
"$TW" --stats --format prometheus "$D" >"$T/prom"
grep 'role="client"' "$T/prom"
assert_has "$T/prom" "twshim_sockets_by_role_total{program=\"$prog\",role=\"client\"} $((n + 3))" \
    "the Prometheus counter is the program's total"

# Safety.  The name a program's file takes in any directory:
name=$(ls "$D" | grep "^$prog\\.")
# A symbolic link planted at it: refused, said once, its target untouched.
mkdir -m 1777 "$T/sticky"
echo "root only" >"$T/victim"
ln -s "$T/victim" "$T/sticky/$name"
with_shim "$P" env TWSHIM_STATS="$T/sticky" $GET >/dev/null 2>"$T/err"
cat "$T/err"
assert_eq "$(cat "$T/victim")" "root only" "the link's target untouched"
assert_eq "$(grep -c "cannot write stats to $T/sticky/$name" "$T/err")" 1 "one line says why"
# Another user's file at that name, whole and right: not used.
rm "$T/sticky/$name"
cp "$D/$name" "$T/sticky/$name"
chown nobody "$T/sticky/$name"
sum=$(md5sum <"$T/sticky/$name")
with_shim "$P" env TWSHIM_STATS="$T/sticky" $GET >/dev/null 2>"$T/err"
cat "$T/err"
assert_has "$T/err" "another user's file" "another user's file refused"
assert_eq "$(md5sum <"$T/sticky/$name")" "$sum" "and left as it was"
# A FIFO there: no wait, refused.
rm "$T/sticky/$name"
mkfifo "$T/sticky/$name"
timeout 10 env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_POLICY_TEXT="$P" \
    TWSHIM_STATS="$T/sticky" $GET >/dev/null 2>"$T/err"
assert_eq "$?" 0 "a FIFO at the name: curl ran to its end"
assert_has "$T/err" "not a regular file" "and said why"
# A file of ours of another size (cut short): refused, never mapped.
rm "$T/sticky/$name"
head -c 100 "$D/$name" >"$T/sticky/$name"
with_shim "$P" env TWSHIM_STATS="$T/sticky" $GET >/dev/null 2>"$T/err"
assert_has "$T/err" "not a stats file of this program and twshim build" "a short file refused"
assert_eq "$(wc -c <"$T/sticky/$name")" 100 "and left as it was"
# A directory the program cannot write: the program runs, said once.
# (Copies of the library and of sockops in $T: the tree may be in a
# directory nobody can reach.)
mkdir -m 755 "$T/closed"
chmod 755 "$T"
cp "$LIB" "$T/lib-copy.so"
cp "$OPS" "$T/sockops-copy"
GET_NOBODY=$(printf '%s' "$GET" | sed "s#$OPS#$T/sockops-copy#")
runuser -u nobody -- env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$T/lib-copy.so" \
    TWSHIM_POLICY_TEXT="$P" TWSHIM_STATS="$T/closed" $GET_NOBODY >/dev/null 2>"$T/err"
assert_eq "$?" 0 "$prog worked"
cat "$T/err"
assert_eq "$(grep -c "cannot write stats" "$T/err")" 1 "one line says why"

# A process that changes its user before its first socket makes the file
# of the user it is then (named and owned so).
mkdir -m 1777 "$T/open"
with_shim "$P" env TWSHIM_STATS="$T/open" python3 -c '
import encodings.idna, os, socket
os.setgid(65534); os.setuid(65534)
socket.create_connection(("127.0.0.1", 7395)).close()'
ls -l "$T/open"
assert_eq "$(ls "$T/open" | grep -c '^python3\.65534\.')" 1 "the file named for nobody"
assert_eq "$(stat -c %U "$T"/open/python3.*)" nobody "and owned by nobody"

# A full file system: no file, a line that says so, and the program runs
# to its end (a file with holes, mapped, would raise SIGBUS at the first
# count).  In a mount namespace of the test's own.
unshare -m sh -c '
d=$1; shift
mkdir "$d/full" && mount -t tmpfs -o size=8k none "$d/full" || exit 99
head -c 8192 /dev/zero >"$d/full/fill" 2>/dev/null
"$@" 2>"$d/full.err"
echo $? >"$d/full.rc"
ls -A "$d/full" >"$d/full.left"' sh "$T" env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" \
    TWSHIM_POLICY_TEXT="$P" TWSHIM_STATS="$T/full" "$OPS" sock a , connect a 127.0.0.1 7395 , close a >/dev/null
cat "$T/full.err"
assert_eq "$(cat "$T/full.rc")" 0 "the program ran to its end on a full file system"
assert_has "$T/full.err" "No space left on device" "and the reason is said"
assert_eq "$(cat "$T/full.left")" "fill" "no file, no temporary file left"

# Program names that differ in a control character (the log makes both
# "a?") or hold a backslash stay distinct programs, printed escaped.
mkdir "$T/names"
for name in $'a\001' $'a\002' 'a?' 'a\x01'; do
	with_shim "$P" env TWSHIM_STATS="$T/names" bash -c 'exec -a "$0" "$@"' "$name" \
	    "$OPS" sock a , connect a 127.0.0.1 7395 , close a >/dev/null
done
ls "$T/names"
"$TW" --stats "$T/names" >"$T/text"
cat "$T/text"
assert_eq "$(ls "$T/names" | wc -l)" 4 "four files"
assert_has "$T/text" 'a\x01: 1 process' "a control character as \\xNN"
assert_has "$T/text" 'a\x02: 1 process' "another, another program"
assert_has "$T/text" 'a?: 1 process' "a question mark is itself"
assert_has "$T/text" 'a\\x01: 1 process' "a backslash doubled"
assert_has "$T/text" "total of 4 programs: 4 processes" "four programs"
