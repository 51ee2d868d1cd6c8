// Package batchsend measures what one kernel entry costs a loopback send:
// 32 sockets each sent 128 bytes with one write system call apiece
// (what the event loop does today), with one io_uring submission for all
// 32, and with one io_uring submission apiece. It is a probe for a
// design decision, not part of the proxy:
//
//	taskset -c 0 go test -run '^$' -bench . -count 3 ./bench/batchsend/
//
// The benchmarks skip where io_uring is unavailable (an old kernel,
// kernel.io_uring_disabled, a seccomp filter). See docs/benchmarks.md for
// the figures.
package batchsend
