# Programs that write their process title over argv and environ (redis,
# nginx, postgres) keep their stats file and their name in the log: the
# library copies what it needs at start.
. tests/integration/lib.sh

echo_server 127.0.0.1 7087 "$T/server.log"
TWSHIM_LOG=info with_shim '[client *];close = abort' env TWSHIM_STATS="$T/st.%p" \
    "$B/helpers/retitle" 127.0.0.1 7087 2>"$T/err"
rc=$?
cat "$T/err"
ls "$T"
assert_eq "$rc" 0 "the program ran"
f=$(ls "$T"/st.* 2>/dev/null | head -n 1)
[ -n "$f" ] || fail "no stats file at $T/st.PID"
assert_eq "$(stat_of program "$f")" retitle "the stats name the program"
assert_eq "$(stat_of close_abort "$f")" 1 "and count its close"
assert_lacks "$T/err" "cannot write stats" "no write failure"
assert_has "$T/err" "twshim: retitle[" "log lines keep the program's name"
assert_lacks "$T/err" "worker process" "not its new title"

# redis-server itself, through the launcher, stopped by SIGTERM.
if command -v redis-server >/dev/null 2>&1; then
	mkdir "$T/redis"
	TWSHIM_STATS="$T/redis/st.%p" "$TW" -e '[listener *];reuseaddr = yes' -- \
	    redis-server --port 6390 --save "" --appendonly no --dir "$T/redis" \
	    --bind 127.0.0.1 >"$T/redis.out" 2>"$T/redis.err" &
	r=$!
	_pids="$_pids $r"
	wait_listen 6390
	kill -TERM $r
	wait $r
	cat "$T/redis.err"
	f=$(ls "$T"/redis/st.* 2>/dev/null | head -n 1)
	[ -n "$f" ] || fail "redis-server: no stats file"
	assert_eq "$(stat_of program "$f")" redis-server "redis-server's stats name it"
	assert_ge "$(stat_of role_listener "$f")" 1 "and count its listener"
	assert_lacks "$T/redis.err" "cannot write stats" "no write failure"
fi
