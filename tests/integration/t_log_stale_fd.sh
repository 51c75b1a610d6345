# The log file's descriptor sits at a high number that a program may close
# where the library cannot see (a raw system call) and then get back for a
# file of its own.  The library must notice that the number is no longer
# its log: no log line may go into the program's file, and the program's
# close() of it must really close it.
. tests/integration/lib.sh

echo_server 127.0.0.1 7330 "$T/server.log"
wait_listen 7330
: >"$T/shim.log"
with_shim '[client *];close = abort' env TWSHIM_LOG=info \
    TWSHIM_LOG_FILE="$T/shim.log" sh -c 'ulimit -n 64 && exec "$0" logstale 7330 "$1" "$2"' \
    "$B/helpers/ownfds" "$(realpath "$T/shim.log")" "$T/data" >"$T/out" 2>&1
cat "$T/out"
assert_has "$T/out" "raw_close: 0" "the log descriptor was closed behind the library's back"
assert_has "$T/out" "file_at_log_number: 1" "the program's file took the number"
assert_has "$T/out" "file_bytes: 0" "no log line went into the program's file"
assert_has "$T/out" "close_file: 0" "close() of the file succeeded"
assert_has "$T/out" "file_still_open: 0" "and really closed it"

# close_range() over the stale number succeeds and keeps errno as it was.
with_shim '[client *];close = abort' env TWSHIM_LOG_FILE="$T/shim.log" \
    sh -c 'ulimit -n 64 && exec "$0" logrange 7330 "$1"' \
    "$B/helpers/ownfds" "$(realpath "$T/shim.log")" >"$T/range" 2>&1
cat "$T/range"
assert_has "$T/range" "close_range: 0 errno 12345" "close_range() kept errno"
