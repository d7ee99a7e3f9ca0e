// SPDX-License-Identifier: MIT
// Microbenchmarks of a request's way through the daemon's connection
// code (core/): the socket's bytes parsed into messages, each dispatched
// (core/ops.c), its reply queued and flushed, on an in-process daemon
// with one worker driven by hand on the benchmark's thread (the fuzz
// target's set-up, tests/inproc.h; bench/dispatch_harness.c).
//
//   build/bench_dispatch [--benchmark_filter=...] [--benchmark_min_time=...]
//                        [--benchmark_format=json]
//
//   BM_DispatchRead/B   B READs of /local/domain/1/name (32-byte value)
//                       written to the socket at once, the connection
//                       served (mxs_conn_readable, then the dirty list,
//                       then the connections the budget of 64 requests
//                       per batch left over, as the worker loop does),
//                       the B replies read back and checked (type, id,
//                       payload).  Items are requests: B = 256 is the
//                       parse + dispatch + reply cost with the system
//                       calls amortised, B = 1 with them (the peer's
//                       write and read, the daemon's recv and writev).
//   BM_DispatchWrite/B  the same for WRITEs of the same 32-byte value to
//                       that node (reply "OK"): a new version of the
//                       node per write, under the commit lock, its old
//                       version freed by liburcu's call_rcu thread.
//
// Linked with jemalloc, as the daemon is (each queued reply is a malloc
// and a free).  The store holds that node and what a new store holds:
// the lookup is the cheapest there is (bench_store measures lookups at
// 10k to 1M nodes).  The checks run inside the timed loop (a memcmp of
// 32 bytes per reply).  Each iteration ends with a quiescent state.
#include <benchmark/benchmark.h>

#include "bench/dispatch_harness.h"
#include "mxs/protocol.h"

namespace {

void Run(benchmark::State &state, unsigned int op)
{
	const unsigned int n = static_cast<unsigned int>(state.range(0));
	const char *err = nullptr;

	if (mxs_bd_init()) {
		state.SkipWithError("no in-process daemon");
		return;
	}
	if (mxs_bd_open(op, n)) {
		state.SkipWithError("no connection");
		return;
	}
	for (auto _ : state) {
		err = mxs_bd_round();
		if (err) {
			state.SkipWithError(err);
			break;
		}
	}
	const char *close_err = mxs_bd_close();
	if (err)
		return;
	if (close_err) {
		state.SkipWithError(close_err);
		return;
	}
	// Time and CPU are per batch; items_per_second is per request.
	state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

void BM_DispatchRead(benchmark::State &state)
{
	Run(state, MXS_OP_READ);
}

void BM_DispatchWrite(benchmark::State &state)
{
	Run(state, MXS_OP_WRITE);
}

BENCHMARK(BM_DispatchRead)->Arg(1)->Arg(16)->Arg(256);
BENCHMARK(BM_DispatchWrite)->Arg(1)->Arg(16)->Arg(256);

} // namespace

BENCHMARK_MAIN();
