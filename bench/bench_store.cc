// SPDX-License-Identifier: MIT
// Microbenchmarks of the store through its public headers (store/store.h,
// store/watch.h): lookups, reads, writes and directories at 10k, 100k and
// 1M nodes, reads scaling with threads with and without a writer, commits
// with and without conflicts, watch matching, and resident bytes per node.
//
//   build/bench_store [--benchmark_filter=...] [--benchmark_min_time=...]
//                     [--benchmark_format=json]
//
//   BM_BytesPerNode             100,000 nodes of a 13-byte path (100 per
//                               parent) and a 32-byte value written into
//                               a fresh store;
//                               counter bytes_per_node = resident set
//                               growth / nodes (jemalloc, as the daemon).
//                               Runs first, before any large store has
//                               freed memory the allocator could reuse.
//   BM_StoreLookup/nodes:N      GET_PERMS of a random leaf (path walk, no
//                               value copied)
//   BM_StoreRead/nodes:N        READ of a random leaf
//   BM_StoreWrite/nodes:N       overwrite of a random leaf
//   BM_StoreDirectory/nodes:N   children of a random domain home (6)
//   BM_StoreCreateRemove/nodes:N  a write creating /local/domain/bench/x
//                               (a child of a directory of N/20 children)
//                               and the RM of /local/domain/bench
//   BM_Read/threads:T           READ, T lock-free readers (100k nodes)
//   BM_Directory1000            DIRECTORY of /local/domain, 1,000 children
//   BM_Write/threads:T          writes from T threads (writer lock)
//   BM_ReadWithWriter/threads:T T readers while another thread writes
//                               random leaves; items = reads
//   BM_ReadWithStreamer, BM_ReadWithComputer: the same readers next to a
//                               thread that streams over 32 MiB or only
//                               computes (what any busy neighbour costs)
//   BM_TransactionRMW           read-modify-write in a transaction, random
//                               nodes (1 and 2 threads: rare conflicts)
//   BM_CommitNoConflict         tx read + write of a node, commit succeeds
//   BM_CommitConflict           tx read + write, the same node written
//                               outside the tx before the commit: EAGAIN
//   BM_WatchMatch/N             one change against N watches, 2 match
//   BM_WatchHandshake/N         the handshake's watches of N domains,
//                               each change another domain's (cold)
//   BM_DirectoryPartPaging/N    a whole DIRECTORY_PART listing of N
//                               children in 4 KiB replies
//
// A store of N nodes holds N/20 domains of 20 nodes each (a home, name,
// memory, cpu, device/vif, device/vbd, control, console; 10 of them
// leaves).  One store exists at a time; benchmarks run size by size so
// each is built once.  Each benchmark thread is an RCU (QSBR) reader
// registered for the run and announces a quiescent state every
// iteration, as a worker does per batch.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "store/rcu.h"
#include "store/store.h"
#include "store/watch.h"

namespace {

const mxs_caller kDom0 = {0, MXS_NO_TARGET, true, false};

const char *const kLeaves[] = {
	"name",		  "memory/target",	"memory/static-max",
	"cpu/0/availability", "device/vif/0/state", "device/vif/0/mac",
	"device/vbd/51712/state", "control/shutdown", "console/port",
	"data",
};
constexpr int kNodesPerDomain = 20;

// The store of the size being measured.  sized() is called before the
// benchmark thread registers with RCU (ReaderScope): a size switch frees
// the old store, which waits for a grace period, so no benchmark thread
// may be an online reader then.
struct SizedStore {
	std::mutex mu;
	int64_t nodes = 0;
	mxs_store *st = nullptr;
	std::vector<std::string> leaves; // every leaf path
	std::vector<std::string> homes;  // every domain home
	uint64_t real_nodes = 0;

	void Build(int64_t n)
	{
		rcu_register_thread();
		if (st)
			mxs_store_free(st);
		leaves.clear();
		homes.clear();
		st = mxs_store_new();
		if (!st)
			std::abort();
		mxs_changes ch = {};
		char path[96];
		int64_t domains = n / kNodesPerDomain;
		for (int64_t d = 1; d <= domains; d++) {
			snprintf(path, sizeof(path), "/local/domain/%lld",
				 (long long)d);
			homes.push_back(path);
			for (const char *leaf : kLeaves) {
				snprintf(path, sizeof(path),
					 "/local/domain/%lld/%s", (long long)d,
					 leaf);
				if (mxs_store_write(st, nullptr, &kDom0, path,
						    "1", 1, &ch))
					std::abort();
				mxs_changes_clear(&ch);
				leaves.push_back(path);
			}
			// Writes do not hold up grace periods of call_rcu.
			mxs_rcu_quiescent();
		}
		free(ch.v);
		mxs_store_stats s;
		mxs_store_get_stats(st, &s);
		real_nodes = s.nodes;
		nodes = n;
		mxs_rcu_offline();
		rcu_unregister_thread();
	}
};

SizedStore &sized(int64_t n)
{
	static SizedStore s;
	std::lock_guard<std::mutex> g(s.mu);
	if (s.nodes != n)
		s.Build(n);
	return s;
}

class ReaderScope {
public:
	ReaderScope() { rcu_register_thread(); }
	~ReaderScope()
	{
		mxs_rcu_offline();
		rcu_unregister_thread();
	}
};

// A cheap per-thread index sequence that visits the vector in a
// scattered order (no cache-friendly walk).
struct Scatter {
	size_t i, n;
	Scatter(size_t seed, size_t size) : i(seed % size), n(size) {}
	size_t Next()
	{
		i = (i + 7919 * 13) % n;
		return i;
	}
};

long ResidentBytes()
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

void BM_BytesPerNode(benchmark::State &state)
{
	const int64_t n = state.range(0);
	double per_node = 0;
	char path[32], val[33];

	for (auto _ : state) {
		ReaderScope rs;
		long before = ResidentBytes();
		mxs_store *st = mxs_store_new();
		mxs_changes ch = {};

		for (int64_t i = 0; i < n; i++) {
			// 13 bytes, 100 children per parent (as mxs-perf
			// memory); 32 bytes of value.
			snprintf(path, sizeof(path), "/m/%03lld/n%05lld",
				 (long long)(i / 100 % 1000),
				 (long long)(i % 100000));
			snprintf(val, sizeof(val), "%032lld", (long long)i);
			if (mxs_store_write(st, nullptr, &kDom0, path, val, 32,
					    &ch))
				std::abort();
			mxs_changes_clear(&ch);
			mxs_rcu_quiescent();
		}
		long after = ResidentBytes();
		per_node = (double)(after - before) / (double)n;
		free(ch.v);
		state.PauseTiming();
		mxs_rcu_offline();
		mxs_store_free(st);
		mxs_rcu_online();
		state.ResumeTiming();
	}
	state.counters["bytes_per_node"] = per_node;
	state.SetItemsProcessed(state.iterations() * n);
}

using StoreQuery = int (*)(mxs_store *, mxs_txn *, const mxs_caller *,
			   const char *, mxs_buf *);

// One query of a random leaf per iteration.
void QueryLeaves(benchmark::State &state, StoreQuery query)
{
	SizedStore &s = sized(state.range(0));
	ReaderScope rs;
	mxs_buf out = {};
	Scatter k((size_t)state.thread_index() * 104729, s.leaves.size());

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(query(s.st, nullptr, &kDom0,
					       s.leaves[k.Next()].c_str(), &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.counters["nodes"] = (double)s.real_nodes;
	state.SetItemsProcessed(state.iterations());
}

void BM_StoreLookup(benchmark::State &state)
{
	QueryLeaves(state, mxs_store_get_perms);
}

void BM_StoreRead(benchmark::State &state)
{
	QueryLeaves(state, mxs_store_read);
}

void BM_StoreWrite(benchmark::State &state)
{
	SizedStore &s = sized(state.range(0));
	ReaderScope rs;
	mxs_changes ch = {};
	Scatter k((size_t)state.thread_index() * 104729, s.leaves.size());

	for (auto _ : state) {
		benchmark::DoNotOptimize(mxs_store_write(
			s.st, nullptr, &kDom0, s.leaves[k.Next()].c_str(), "2", 1,
			&ch));
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	free(ch.v);
	state.counters["nodes"] = (double)s.real_nodes;
	state.SetItemsProcessed(state.iterations());
}

void BM_StoreDirectory(benchmark::State &state)
{
	SizedStore &s = sized(state.range(0));
	ReaderScope rs;
	mxs_buf out = {};
	Scatter k((size_t)state.thread_index() * 104729, s.homes.size());

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(mxs_store_directory(
			s.st, nullptr, &kDom0, s.homes[k.Next()].c_str(), &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.counters["nodes"] = (double)s.real_nodes;
	state.SetItemsProcessed(state.iterations());
}

// Creations and removals under a large directory: what the writer pays
// for finding parents through the index (the removal walk, the unlinking
// of removed nodes, the parent's touch).
void BM_StoreCreateRemove(benchmark::State &state)
{
	SizedStore &s = sized(state.range(0));
	ReaderScope rs;
	mxs_changes ch = {};

	for (auto _ : state) {
		if (mxs_store_write(s.st, nullptr, &kDom0,
				    "/local/domain/bench/x", "1", 1, &ch) ||
		    mxs_store_rm(s.st, nullptr, &kDom0, "/local/domain/bench",
				 &ch))
			std::abort();
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	free(ch.v);
	state.counters["nodes"] = (double)s.real_nodes;
	state.SetItemsProcessed(state.iterations());
}

constexpr int64_t kThreadedNodes = 100000;

void BM_Read(benchmark::State &state)
{
	SizedStore &s = sized(kThreadedNodes);
	ReaderScope rs;
	mxs_buf out = {};
	Scatter k((size_t)state.thread_index() * 104729, s.leaves.size());

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(mxs_store_read(
			s.st, nullptr, &kDom0, s.leaves[k.Next()].c_str(), &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.SetItemsProcessed(state.iterations());
}

// 20k nodes = 1,000 domain homes.
void BM_Directory1000(benchmark::State &state)
{
	SizedStore &s = sized(20000);
	ReaderScope rs;
	mxs_buf out = {};

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(mxs_store_directory(
			s.st, nullptr, &kDom0, "/local/domain", &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.SetItemsProcessed(state.iterations());
}

void BM_Write(benchmark::State &state)
{
	SizedStore &s = sized(kThreadedNodes);
	ReaderScope rs;
	mxs_changes ch = {};
	Scatter k((size_t)state.thread_index() * 104729, s.leaves.size());

	for (auto _ : state) {
		benchmark::DoNotOptimize(mxs_store_write(
			s.st, nullptr, &kDom0, s.leaves[k.Next()].c_str(), "2", 1,
			&ch));
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	free(ch.v);
	state.SetItemsProcessed(state.iterations());
}

// A thread next to the readers, outside the benchmark's own threads (a
// benchmark's threads all run the same number of iterations, so a writer
// among them would pace the readers): it writes random leaves as fast as
// it can (kWrites), streams stores over a 32 MiB buffer, about a write's
// worth of cache lines per round and none of them the store's
// (kStreams), or only computes (kComputes), until the run ends.
class Neighbour {
public:
	enum Kind { kWrites, kStreams, kComputes };

	void Start(Kind kind)
	{
		SizedStore &s = sized(kThreadedNodes);
		stop_ = false;
		thread_ = std::thread([this, kind, &s] { Run(kind, s); });
	}
	void Stop()
	{
		stop_ = true;
		thread_.join();
	}
	// Rounds made so far (relaxed: a rate, read by a reader).
	uint64_t Rounds() const
	{
		return rounds_.load(std::memory_order_relaxed);
	}

private:
	void Run(Kind kind, SizedStore &s)
	{
		ReaderScope rs;
		mxs_changes ch = {};
		Scatter k(7919, s.leaves.size());
		std::vector<uint64_t> buf(kind == kStreams ? (32u << 20) / 8 : 0);
		uint64_t x = 1, at = 0;

		while (!stop_.load(std::memory_order_relaxed)) {
			if (kind == kWrites) {
				mxs_store_write(s.st, nullptr, &kDom0,
						s.leaves[k.Next()].c_str(), "3",
						1, &ch);
				mxs_changes_clear(&ch);
			} else if (kind == kStreams) {
				for (int i = 0; i < 32; i++) {
					buf[at] = x++;
					at = (at + 8 + 512 * (x & 1)) % buf.size();
				}
			} else {
				for (int i = 0; i < 512; i++)
					x = x * 6364136223846793005u +
					    1442695040888963407u;
				benchmark::DoNotOptimize(x);
			}
			mxs_rcu_quiescent();
			rounds_.fetch_add(1, std::memory_order_relaxed);
		}
		free(ch.v);
	}

	std::thread thread_;
	std::atomic<bool> stop_{false};
	std::atomic<uint64_t> rounds_{0};
};

Neighbour neighbour;

// T readers while the neighbour runs: the readers' rate (items) and CPU
// per read against BM_Read/threads:T (no neighbour) say what a writer
// costs them; the streaming and computing neighbours say how much of
// that any busy thread next to them costs (shared caches, memory, the
// core's time).
void ReadNextTo(benchmark::State &state)
{
	SizedStore &s = sized(kThreadedNodes);
	ReaderScope rs;
	mxs_buf out = {};
	Scatter k((size_t)state.thread_index() * 104729 + 1, s.leaves.size());
	uint64_t rounds = neighbour.Rounds();

	for (auto _ : state) {
		mxs_buf_reset(&out);
		benchmark::DoNotOptimize(mxs_store_read(
			s.st, nullptr, &kDom0, s.leaves[k.Next()].c_str(), &out));
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.SetItemsProcessed(state.iterations());
	if (state.thread_index() == 0)
		state.counters["neighbour"] = benchmark::Counter(
			(double)(neighbour.Rounds() - rounds),
			benchmark::Counter::kIsRate);
}

void StartWriter(const benchmark::State &) { neighbour.Start(Neighbour::kWrites); }
void StartStreamer(const benchmark::State &) { neighbour.Start(Neighbour::kStreams); }
void StartComputer(const benchmark::State &) { neighbour.Start(Neighbour::kComputes); }
void StopNeighbour(const benchmark::State &) { neighbour.Stop(); }

// conflicting: a write outside the transaction lands between its read
// and its commit, so every commit fails with EAGAIN (counter 1/iter).
void Commit(benchmark::State &state, bool conflicting)
{
	SizedStore &s = sized(kThreadedNodes);
	ReaderScope rs;
	mxs_buf out = {};
	mxs_changes ch = {};
	Scatter k((size_t)state.thread_index() * 104729, s.leaves.size());
	int64_t conflicts = 0;

	for (auto _ : state) {
		const std::string &p = s.leaves[k.Next()];
		mxs_txn *tx = mxs_txn_new(s.st);
		mxs_buf_reset(&out);
		mxs_store_read(s.st, tx, &kDom0, p.c_str(), &out);
		mxs_store_write(s.st, tx, &kDom0, p.c_str(), "5", 1, &ch);
		if (conflicting) {
			mxs_store_write(s.st, nullptr, &kDom0, p.c_str(), "6", 1,
					&ch);
			mxs_changes_clear(&ch);
		}
		if (mxs_txn_commit(tx, &ch) == -EAGAIN)
			conflicts++;
		mxs_txn_free(tx);
		mxs_changes_clear(&ch);
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	free(ch.v);
	state.counters["conflicts/iter"] =
		state.iterations() ? (double)conflicts / (double)state.iterations()
				   : 0;
	state.SetItemsProcessed(state.iterations());
}

void BM_CommitNoConflict(benchmark::State &state) { Commit(state, false); }
// The same on 1 and 2 threads: conflicts only where random nodes collide.
void BM_TransactionRMW(benchmark::State &state) { Commit(state, false); }
void BM_CommitConflict(benchmark::State &state) { Commit(state, true); }

// The watch benchmarks' callback: counts the events fired.
void CountHit(void *arg, const mxs_watch *, const char *)
{
	++*static_cast<int64_t *>(arg);
}

// Frees the watch benchmarks' registry and reports hits per iteration.
void WatchesDone(benchmark::State &state, mxs_watches *reg,
		 std::vector<mxs_watch_owner> &owners, int64_t hits)
{
	for (auto &o : owners)
		mxs_watch_remove_all(reg, &o);
	mxs_watches_free(reg);
	state.counters["hits/iter"] =
		state.iterations() ? (double)hits / state.iterations() : 0;
	state.SetItemsProcessed(state.iterations());
}

// Matching one change against N watches (one of them on the changed
// node's parent, the rest on other domains) plus one on an ancestor: cost
// must not grow with N; hits/iter is 2.
void BM_WatchMatch(benchmark::State &state)
{
	mxs_watches *reg = mxs_watches_new();
	std::vector<mxs_watch_owner> owners((size_t)state.range(0) + 1);
	char path[64];

	for (int64_t n = 0; n < state.range(0); n++) {
		mxs_watch_owner_init(&owners[(size_t)n], nullptr, (uint64_t)n);
		// Domain 7's own watch is the one that matches: a 1M-domain
		// id cannot collide with the changed path's ancestors.
		snprintf(path, sizeof(path), "/local/domain/%lld/device",
			 (long long)(n == 7 ? n : n + 1000000));
		mxs_watch_add(reg, &owners[(size_t)n], path, "t", 0);
	}
	// The extra owner watches an ancestor of the change.
	mxs_watch_owner_init(&owners.back(), nullptr, (uint64_t)state.range(0));
	mxs_watch_add(reg, &owners.back(), "/local/domain", "a", 0);
	int64_t hits = 0;
	for (auto _ : state)
		benchmark::DoNotOptimize(mxs_watches_fire(
			reg, "/local/domain/7/device/vif/0/state", false, CountHit,
			&hits));
	WatchesDone(state, reg, owners, hits);
}

// The xenbus handshake's watches on N domains: one backend owner watches
// every frontend's state node, each frontend its backend's state node;
// an iteration changes the next domain's frontend or backend state, so
// (as in the daemon, between two changes of a domain the others') the
// buckets and watches it meets are not in the cache at large N.  Each
// change fires one watch; time per change must not grow with N.
void BM_WatchHandshake(benchmark::State &state)
{
	const int64_t n = state.range(0);
	mxs_watches *reg = mxs_watches_new();
	std::vector<mxs_watch_owner> owners((size_t)n + 1);
	std::vector<std::string> fe((size_t)n), be((size_t)n);
	char path[96];

	mxs_watch_owner_init(&owners[0], nullptr, 0);
	for (int64_t d = 1; d <= n; d++) {
		snprintf(path, sizeof(path),
			 "/local/domain/%lld/device/vif/0/state", (long long)d);
		fe[(size_t)d - 1] = path;
		snprintf(path, sizeof(path),
			 "/local/domain/0/backend/vif/%lld/0/state",
			 (long long)d);
		be[(size_t)d - 1] = path;
		mxs_watch_owner_init(&owners[(size_t)d], nullptr, (uint64_t)d);
	}
	// In boot order: the backend's watch on a domain, then the
	// domain's on its backend.
	for (int64_t d = 0; d < n; d++) {
		mxs_watch_add(reg, &owners[0], fe[(size_t)d].c_str(), "be", 0);
		mxs_watch_add(reg, &owners[(size_t)d + 1],
			      be[(size_t)d].c_str(), "fe", 0);
	}
	int64_t hits = 0;
	size_t i = 0;
	for (auto _ : state) {
		const std::string &p = (i & 1) ? be[(i >> 1) % (size_t)n]
					       : fe[(i >> 1) % (size_t)n];

		benchmark::DoNotOptimize(
			mxs_watches_fire(reg, p.c_str(), false, CountHit, &hits));
		i++;
	}
	WatchesDone(state, reg, owners, hits);
}

// Paging through a directory of N children with DIRECTORY_PART in
// 4 KiB replies (the wire's payload limit), as a client lists a big
// host's /local/domain: one iteration is the whole listing.  Linear in N
// when a call costs its reply, quadratic when each call rebuilds the list.
void BM_DirectoryPartPaging(benchmark::State &state)
{
	const int64_t n = state.range(0);
	ReaderScope rs;
	mxs_store *st = mxs_store_new();
	mxs_changes ch = {};
	mxs_buf out = {};
	int64_t calls = 0;
	char path[64];

	if (!st)
		std::abort();
	for (int64_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/paging/%lld", (long long)i);
		if (mxs_store_write(st, nullptr, &kDom0, path, "", 0, &ch))
			std::abort();
		mxs_changes_clear(&ch);
	}
	free(ch.v);
	mxs_rcu_quiescent();
	for (auto _ : state) {
		size_t off = 0;
		bool done = false;

		while (!done) {
			mxs_buf_reset(&out);
			mxs_store_directory_part(st, nullptr, &kDom0, "/paging",
						 off, 4096, &out);
			size_t glen = strlen(out.p) + 1;
			done = out.len >= glen + 1 && out.p[out.len - 1] == 0 &&
			       out.p[out.len - 2] == 0;
			off += out.len - glen - done;
			calls++;
		}
		mxs_rcu_quiescent();
	}
	mxs_buf_free(&out);
	state.counters["calls/iter"] =
		state.iterations() ? (double)calls / state.iterations() : 0;
	state.SetItemsProcessed(state.iterations() * n);
	mxs_rcu_offline();
	mxs_store_free(st);
	mxs_rcu_online();
}


void Sized(const char *name, void (*fn)(benchmark::State &), int64_t n)
{
	benchmark::RegisterBenchmark(name, fn)
		->ArgName("nodes")
		->Arg(n)
		->MinTime(0.1);
}

// Size by size, so that each store is built once (10k, 20k, 100k, 1M).
void Register()
{
	const double kMin = 0.1; // seconds per benchmark: short by default
	benchmark::RegisterBenchmark("BM_BytesPerNode", BM_BytesPerNode)
		->Arg(100000)
		->Iterations(1)
		->Unit(benchmark::kMillisecond);
	for (int64_t n : {10000, 100000, 1000000}) {
		Sized("BM_StoreLookup", BM_StoreLookup, n);
		Sized("BM_StoreRead", BM_StoreRead, n);
		Sized("BM_StoreWrite", BM_StoreWrite, n);
		Sized("BM_StoreDirectory", BM_StoreDirectory, n);
		Sized("BM_StoreCreateRemove", BM_StoreCreateRemove, n);
		if (n == 10000)
			benchmark::RegisterBenchmark("BM_Directory1000",
						     BM_Directory1000)
				->MinTime(kMin)
				->UseRealTime();
		if (n != kThreadedNodes)
			continue;
		benchmark::RegisterBenchmark("BM_Read", BM_Read)
			->ThreadRange(1, 4)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_Write", BM_Write)
			->ThreadRange(1, 2)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_ReadWithWriter", ReadNextTo)
			->Setup(StartWriter)
			->Teardown(StopNeighbour)
			->ThreadRange(1, 2)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_ReadWithStreamer", ReadNextTo)
			->Setup(StartStreamer)
			->Teardown(StopNeighbour)
			->ThreadRange(1, 2)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_ReadWithComputer", ReadNextTo)
			->Setup(StartComputer)
			->Teardown(StopNeighbour)
			->ThreadRange(1, 2)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_TransactionRMW",
					     BM_TransactionRMW)
			->ThreadRange(1, 2)
			->MinTime(kMin)
			->UseRealTime();
		benchmark::RegisterBenchmark("BM_CommitNoConflict",
					     BM_CommitNoConflict)
			->MinTime(kMin);
		benchmark::RegisterBenchmark("BM_CommitConflict",
					     BM_CommitConflict)
			->MinTime(kMin);
	}
	benchmark::RegisterBenchmark("BM_WatchMatch", BM_WatchMatch)
		->Arg(10)
		->Arg(1000)
		->Arg(10000)
		->MinTime(kMin);
	benchmark::RegisterBenchmark("BM_WatchHandshake", BM_WatchHandshake)
		->Arg(500)
		->Arg(5000)
		->Arg(50000)
		->MinTime(kMin);
	benchmark::RegisterBenchmark("BM_DirectoryPartPaging",
				     BM_DirectoryPartPaging)
		->Arg(1000)
		->Arg(5000)
		->MinTime(kMin)
		->UseRealTime();
}

} // namespace

int main(int argc, char **argv)
{
	Register();
	benchmark::Initialize(&argc, argv);
	if (benchmark::ReportUnrecognizedArguments(argc, argv))
		return 1;
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	return 0;
}
