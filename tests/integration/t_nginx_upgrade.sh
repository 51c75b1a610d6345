# nginx's binary upgrade (SIGUSR2) starts the new master with only the
# variables nginx.conf lets through: without "env LD_PRELOAD;" the new
# master runs without twshim, with it (and the policy's variable) under it.
. tests/integration/lib.sh

command -v nginx >/dev/null 2>&1 || { echo "no nginx: skipped"; exit 0; }
NG=$(command -v nginx)
mkdir -p "$T/ng/logs"
# The daemons are not our children: stop them by their pid files at exit.
stop_nginx() {
	for f in "$T"/ng/nginx.pid "$T"/ng/nginx.pid.oldbin; do
		[ -s "$f" ] && kill -QUIT "$(cat "$f" 2>/dev/null)" 2>/dev/null
	done
}
trap 'stop_nginx; cleanup' EXIT

# upgrade ENV_LINES: start nginx under twshim, send USR2, and print whether
# the new master has the library mapped.
upgrade() {
	rm -f "$T"/ng/nginx.pid*
	cat >"$T/ng/nginx.conf" <<CONF
$1
daemon on;
master_process on;
worker_processes 1;
pid $T/ng/nginx.pid;
error_log $T/ng/logs/error.log;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/ng/body; proxy_temp_path $T/ng/proxy;
	fastcgi_temp_path $T/ng/fcgi; uwsgi_temp_path $T/ng/uwsgi; scgi_temp_path $T/ng/scgi;
	server { listen 127.0.0.1:8089; return 200 "ok\n"; }
}
CONF
	"$TW" -e '[listener *];reuseaddr = yes' -- "$NG" -p "$T/ng" -c "$T/ng/nginx.conf" \
	    -e "$T/ng/logs/error.log" || fail "nginx did not start"
	for i in $(seq 1 100); do [ -s "$T/ng/nginx.pid" ] && break; sleep 0.05; done
	old=$(cat "$T/ng/nginx.pid")
	# A USR2 that arrives before the master waits for signals is noted but
	# acted on only at the next one; nginx ignores a second USR2 once it
	# has upgraded, so sending it again until the upgrade shows is safe.
	for i in $(seq 1 200); do
		[ $((i % 20)) -eq 1 ] && kill -USR2 "$old"
		[ -s "$T/ng/nginx.pid.oldbin" ] && [ -s "$T/ng/nginx.pid" ] &&
		    [ "$(cat "$T/ng/nginx.pid")" != "$old" ] && break
		sleep 0.05
	done
	new=$(cat "$T/ng/nginx.pid")
	[ "$new" != "$old" ] || fail "no new master (see $T/ng/logs/error.log)"
	grep -c libtwshim "/proc/$new/maps"
	# A QUIT that reaches the new master before its handlers are set kills
	# it outright and orphans its worker: stop it only once it has one.
	for i in $(seq 1 200); do pgrep -P "$new" >/dev/null && break; sleep 0.05; done
	stop_nginx
	for i in $(seq 1 200); do kill -0 "$old" 2>/dev/null || kill -0 "$new" 2>/dev/null || break; sleep 0.05; done
	# Whatever is left of it (the daemon made itself a session) goes now.
	pkill -KILL -s "$old" 2>/dev/null
	for i in $(seq 1 200); do ss -Hltn "sport = :8089" | grep -q . || break; sleep 0.05; done
}

assert_eq "$(upgrade '')" 0 "without env LD_PRELOAD the new master runs without twshim"
assert_ge "$(upgrade 'env LD_PRELOAD; env TWSHIM_POLICY_TEXT;')" 1 "with it, under twshim"
