// SPDX-License-Identifier: MIT
// Microbenchmarks of rings/ (rings/ring.h): messages through one ring page.
//
//   build/bench_ring [--benchmark_filter=...] [--benchmark_min_time=...]
//
//   BM_ring_1thread        guest writes one message to req[], daemon
//                          reads it (same thread, ring never full).
//   BM_ring_1thread_batch  16 messages (a full ring) written, then read.
//   BM_ring_stream         two threads: the guest streams messages into
//                          req[], the daemon drains them (bytes/s).
//   BM_ring_pingpong       two threads: the guest sends a request and
//                          spins for the reply the daemon echoes on rsp[]
//                          (one iteration = one round trip).
//   BM_ring_copy_in/S      one request of S bytes (16, 256, 4096) into the
//                          daemon: the guest produces it into req[], the
//                          daemon copies it out (in ring-sized chunks for
//                          4 KiB); every chunk straddles the wrap.
//   BM_ring_copy_out/S     one reply of S bytes out of the daemon: the
//                          daemon produces it into rsp[], the guest
//                          copies it out; straddling the wrap likewise.
// The copy benchmarks measure one producer and one consumer copy per byte
// (one thread, the ring is never full) and re-bind both views to indices
// just before the wrap every iteration (a few ns, included).
// Waits are spins (the other side makes progress on another CPU); no
// event channel is involved.  For the two-thread runs read the counters
// (bytes_per_second, items_per_second: messages or round trips per second
// of wall time); google-benchmark's Time column divides by the iterations
// of both threads.
#include <benchmark/benchmark.h>

#include <cstring>

extern "C" {
#include "rings/ring.h"
}

namespace {

constexpr size_t kMsg = 64;

struct Page {
	mxs_ring_page page;
	mxs_ring guest, daemon;

	void Reset()
	{
		std::memset(&page, 0, sizeof(page));
		mxs_ring_init(&daemon, &page, MXS_RING_DAEMON);
		mxs_ring_init(&guest, &page, MXS_RING_GUEST);
	}
};

// Moves exactly len bytes, spinning while the ring is full / empty.
void WriteAll(mxs_ring *r, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = mxs_ring_write(r, buf + off, len - off);
		if (n < 0)
			std::abort();
		off += static_cast<size_t>(n);
	}
}

void ReadAll(mxs_ring *r, char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = mxs_ring_read(r, buf + off, len - off);
		if (n < 0)
			std::abort();
		off += static_cast<size_t>(n);
	}
}

void BM_ring_1thread(benchmark::State &state)
{
	Page p;
	char msg[kMsg], in[kMsg];

	p.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (mxs_ring_write(&p.guest, msg, kMsg) != (ssize_t)kMsg ||
		    mxs_ring_read(&p.daemon, in, kMsg) != (ssize_t)kMsg)
			std::abort();
		benchmark::DoNotOptimize(in);
	}
	state.SetBytesProcessed(state.iterations() * kMsg);
	state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ring_1thread);

void BM_ring_1thread_batch(benchmark::State &state)
{
	constexpr size_t kBatch = MXS_RING_SIZE / kMsg;
	Page p;
	char msg[kMsg], in[kMsg];

	p.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		for (size_t i = 0; i < kBatch; i++)
			if (mxs_ring_write(&p.guest, msg, kMsg) != (ssize_t)kMsg)
				std::abort();
		for (size_t i = 0; i < kBatch; i++)
			if (mxs_ring_read(&p.daemon, in, kMsg) != (ssize_t)kMsg)
				std::abort();
		benchmark::DoNotOptimize(in);
	}
	state.SetBytesProcessed(state.iterations() * kBatch * kMsg);
	state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_ring_1thread_batch);

// Binds both views to a page whose four indices stand at idx.
void BindAt(Page &p, mxs_ring_idx_t idx)
{
	p.page.req_prod = p.page.req_cons = idx;
	p.page.rsp_prod = p.page.rsp_cons = idx;
	mxs_ring_init(&p.daemon, &p.page, MXS_RING_DAEMON);
	mxs_ring_init(&p.guest, &p.page, MXS_RING_GUEST);
}

// S bytes from `from` to `to` through the ring, chunk by chunk, every
// chunk starting half a chunk before the wrap.
void CopyThrough(benchmark::State &state, bool in)
{
	const size_t len = static_cast<size_t>(state.range(0));
	const size_t chunk = len < MXS_RING_SIZE ? len : MXS_RING_SIZE;
	static char src[4096], dst[4096];
	Page p;

	p.Reset();
	std::memset(src, 'x', sizeof(src));
	for (auto _ : state) {
		mxs_ring *from = in ? &p.guest : &p.daemon;
		mxs_ring *to = in ? &p.daemon : &p.guest;

		for (size_t off = 0; off < len; off += chunk) {
			BindAt(p, (mxs_ring_idx_t)(MXS_RING_SIZE * 7 - chunk / 2));
			if (mxs_ring_write(from, src + off, chunk) !=
				    (ssize_t)chunk ||
			    mxs_ring_read(to, dst + off, chunk) != (ssize_t)chunk)
				std::abort();
		}
		benchmark::DoNotOptimize(dst);
	}
	state.SetBytesProcessed(state.iterations() * (int64_t)len);
	state.SetItemsProcessed(state.iterations());
}

void BM_ring_copy_in(benchmark::State &state) { CopyThrough(state, true); }
BENCHMARK(BM_ring_copy_in)->Arg(16)->Arg(256)->Arg(4096)->MinTime(0.1);

void BM_ring_copy_out(benchmark::State &state) { CopyThrough(state, false); }
BENCHMARK(BM_ring_copy_out)->Arg(16)->Arg(256)->Arg(4096)->MinTime(0.1);

Page shared; // the two-thread benchmarks; thread 0 resets it

// Thread 0 is the guest, thread 1 the daemon.  Both run the same number
// of iterations, so every message written is read.
void BM_ring_stream(benchmark::State &state)
{
	char msg[kMsg];

	if (state.thread_index() == 0)
		shared.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (state.thread_index() == 0) {
			WriteAll(&shared.guest, msg, kMsg);
		} else {
			ReadAll(&shared.daemon, msg, kMsg);
			benchmark::DoNotOptimize(msg);
		}
	}
	if (state.thread_index() == 1) {
		state.SetBytesProcessed(state.iterations() * kMsg);
		state.SetItemsProcessed(state.iterations());
	}
}
BENCHMARK(BM_ring_stream)->Threads(2)->UseRealTime();

void BM_ring_pingpong(benchmark::State &state)
{
	char msg[kMsg];

	if (state.thread_index() == 0)
		shared.Reset();
	std::memset(msg, 'x', sizeof(msg));
	for (auto _ : state) {
		if (state.thread_index() == 0) {
			WriteAll(&shared.guest, msg, kMsg);
			ReadAll(&shared.guest, msg, kMsg);
		} else {
			ReadAll(&shared.daemon, msg, kMsg);
			WriteAll(&shared.daemon, msg, kMsg);
		}
	}
	if (state.thread_index() == 0)
		state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ring_pingpong)->Threads(2)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
