"""sink.py listen|connect PORT - one TCP connection on 127.0.0.1:PORT
(accepted or made), left unread for 0.3 s so that the other side's close
finds bytes still unsent, then read to the end.  Prints "eof N" or
"reset N": what the peer application saw, and how many bytes before it.
"""
import socket
import sys
import time

how, port = sys.argv[1], int(sys.argv[2])
if how == "listen":
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4)
    s, _ = ls.accept()
else:
    s = socket.create_connection(("127.0.0.1", port))
time.sleep(0.3)
got = 0
try:
    while True:
        b = s.recv(65536)
        if not b:
            print("eof %d" % got)
            break
        got += len(b)
except ConnectionResetError:
    print("reset %d" % got)
