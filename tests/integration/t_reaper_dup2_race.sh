# One thread dup2()s a pipe onto a free number where the reaper's
# duplicates land (1028) and closes it, while another makes graceful
# closes.  The shim's own placement must never take the number between the
# program's check and its dup2(): each close(1028) must close the pipe, and
# every graceful close must be seen through by the reaper.
. tests/integration/lib.sh

echo_server 127.0.0.1 7322 "$T/server.log"
with_shim '[client *];close = graceful 2s' env TWSHIM_STATS="$T/race.st" sh -c \
    'ulimit -n 4096 && exec "$0" race 7322 1000' "$B/helpers/ownfds" >"$T/race" 2>&1
cat "$T/race" "$T/race.st"
assert_has "$T/race" "close_failed: 0" "close() of the dup2()ed number never failed"
assert_has "$T/race" "left_open: 0" "and never left the pipe open"
seen=$(( $(stat_of graceful_eof "$T/race.st") + $(stat_of graceful_timeout "$T/race.st") +
    $(stat_of reaper_at_exit "$T/race.st") ))
assert_eq "$seen" 1000 "every graceful close was finished by the reaper"
