# The operator's case: nginx with "user nobody;" and a worker, under the
# library with TWSHIM_STATS a root-owned directory the workers cannot
# write.  The worker counts all the same (into the file its master made
# before it dropped its privileges), and "twshim --stats DIR" shows the
# accepted connections while nginx still runs, with no signal sent.
. tests/integration/lib.sh

command -v nginx >/dev/null || { echo "SKIP: no nginx"; exit 0; }
chmod 755 "$T"
mkdir -p "$T/www" "$T/ngx" "$T/stats"
chmod 755 "$T/stats"
echo hello >"$T/www/index.html"
chmod 644 "$T/www/index.html"
cat >"$T/nginx.conf" <<NGX
daemon off;
master_process on;
worker_processes 1;
user nobody nogroup;
error_log $T/ngx/error.log;
pid $T/ngx/pid;
events { worker_connections 64; }
http {
	access_log off;
	client_body_temp_path $T/ngx/body; proxy_temp_path $T/ngx/proxy;
	fastcgi_temp_path $T/ngx/fastcgi; uwsgi_temp_path $T/ngx/uwsgi; scgi_temp_path $T/ngx/scgi;
	server { listen 127.0.0.1:7390; root $T/www; }
}
NGX
env LD_PRELOAD="${PRELOAD_FIRST:+$PRELOAD_FIRST }$LIB" TWSHIM_STATS="$T/stats" \
    nginx -c "$T/nginx.conf" -e "$T/ngx/error.log" 2>"$T/ngx/stderr" &
master=$!
_pids="$_pids $master"
wait_listen 7390
for i in $(seq 1 100); do
	[ "$(ps -o user= --ppid "$master" | grep -c nobody)" -ge 1 ] && break
	sleep 0.05
done
assert_eq "$(ps -o user= --ppid "$master" | sort -u)" nobody "the worker runs as nobody"

for i in 1 2 3 4 5 6 7; do
	curl -s -0 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:7390/ >>"$T/codes"
done
assert_eq "$(sort -u "$T/codes")" 200 "nginx answered"
sleep 0.2
ls -l "$T/stats"
"$TW" --stats "$T/stats" >"$T/text" 2>"$T/err"
cat "$T/text" "$T/err"
kill -0 "$master" || fail "nginx is still running"
assert_has "$T/text" "nginx: " "nginx has its counters"
assert_eq "$(sed -n '/^nginx:/,/^total/p' "$T/text" | awk '/sockets returned by accept/ {print $1}')" 7 \
    "the worker's accepted connections, live"
assert_has "$T/text" "nginx: 2 processes" "the master and its worker"
assert_lacks "$T/err" "warning" "no warning"
assert_lacks "$T/ngx/error.log" "twshim" "nothing said in nginx's error.log"
assert_lacks "$T/ngx/stderr" "twshim" "nothing said on nginx's stderr"
