// gochurn - a Go client for the kernel backend's tests: Go makes its own
// system calls, so LD_PRELOAD cannot reach it.
//
//	gochurn ADDR:PORT COUNT REQ PARALLEL
//
// COUNT connections, PARALLEL at a time: connect, send REQ bytes, read the
// answer's line, close first.  Prints "client: N of COUNT" and the first error.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: gochurn ADDR:PORT COUNT REQ PARALLEL")
		os.Exit(2)
	}
	addr := os.Args[1]
	count, _ := strconv.ParseInt(os.Args[2], 10, 64)
	req, _ := strconv.Atoi(os.Args[3])
	parallel, _ := strconv.Atoi(os.Args[4])
	payload := make([]byte, req)
	var next, done int64
	var firstErr atomic.Value
	var wg sync.WaitGroup

	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for atomic.AddInt64(&next, 1) <= count {
				if firstErr.Load() != nil {
					return
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				_, err = c.Write(payload)
				if err == nil {
					_, err = bufio.NewReader(c).ReadString('\n')
				}
				c.Close()
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				atomic.AddInt64(&done, 1)
			}
		}()
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Printf("client: %d of %d; %v\n", done, count, e)
		os.Exit(1)
	}
	fmt.Printf("client: %d of %d\n", done, count)
}
