// Stress and unit tests of weft::detail::WorkStealingRing, the per-worker run queue.
//
// Shapes, as the runtime uses the ring:
//   - one owner pushing (in bursts, so the ring overflows) and popping, three thieves stealing
//     half of it into their own (empty) rings and draining those as their owners;
//   - all-to-all: every thread owns a ring, pushes its own items, pops, and when it runs dry
//     steals from a random other ring, so items stolen once can be stolen again.
// Every item must be consumed exactly once, by a pop, a steal or the overflow callback, and
// each consumer must see the payload the producer wrote before pushing it (the ring's release /
// acquire publication; ThreadSanitizer checks the ordering).
//
// Counts are bounded and scaled down under sanitizers: each test stays well under 10 s on two
// cores.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include <weft/core/detail/atomic.hpp>
#include <weft/scheduler/detail/work_stealing_ring.hpp>

namespace {

using weft::detail::WorkStealingRing;

struct Item {
  std::uint32_t id = 0;
  std::uint64_t payload = 0;  // plain memory, written by the producer before the push
};

constexpr std::uint64_t payload_of(std::uint32_t id) { return id * 0x9e3779b97f4a7c15ull + 1; }

#if defined(WEFT_TSAN) || defined(WEFT_ASAN)
constexpr std::size_t kScale = 5;
#else
constexpr std::size_t kScale = 1;
#endif

struct Rng {
  std::uint64_t s;
  explicit Rng(std::uint64_t seed) : s(seed * 0x9e3779b97f4a7c15ull + 1) {}
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
};

// Bookkeeping shared by all consumers.
class Ledger {
 public:
  explicit Ledger(std::size_t n) : seen_(n), items_(n) {
    for (std::size_t i = 0; i < n; ++i) items_[i].id = static_cast<std::uint32_t>(i);
  }
  Item* item(std::size_t i) { return &items_[i]; }
  void consume(Item* it) {
    if (it == nullptr || it->id >= seen_.size()) {
      bad_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (it->payload != payload_of(it->id)) bad_payload_.fetch_add(1, std::memory_order_relaxed);
    seen_[it->id].fetch_add(1, std::memory_order_relaxed);
    consumed_.fetch_add(1, std::memory_order_relaxed);
  }
  [[nodiscard]] std::size_t consumed() const { return consumed_.load(std::memory_order_acquire); }
  // Every item exactly once.
  void verify(const char* what) {
    EXPECT_EQ(bad_.load(), 0u) << what;
    EXPECT_EQ(bad_payload_.load(), 0u) << what << ": a consumer saw an unpublished payload";
    std::size_t missing = 0, duplicated = 0;
    for (auto& s : seen_) {
      unsigned v = s.load();
      missing += v == 0 ? 1 : 0;
      duplicated += v > 1 ? 1 : 0;
    }
    EXPECT_EQ(missing, 0u) << what << ": items lost";
    EXPECT_EQ(duplicated, 0u) << what << ": items seen twice";
    EXPECT_EQ(consumed(), seen_.size()) << what;
  }

 private:
  std::vector<std::atomic<unsigned>> seen_;
  std::vector<Item> items_;
  std::atomic<std::size_t> consumed_{0};
  std::atomic<std::size_t> bad_{0};
  std::atomic<std::size_t> bad_payload_{0};
};

// ---------------------------------------------------------------- single-threaded semantics

TEST(WorkStealingRing, OwnerOrderIsFifoAndOverflowMovesTheOlderHalf) {
  using Ring = WorkStealingRing<Item, 4>;
  Ledger ledger(16);
  Ring ring;
  Ring::Owner owner(ring);
  std::vector<std::uint32_t> overflowed;
  std::size_t batches = 0;
  auto overflow = [&](Item** items, std::size_t n) {
    ++batches;
    EXPECT_EQ(n, 3u) << "half the ring plus the item being pushed";
    for (std::size_t i = 0; i < n; ++i) overflowed.push_back(items[i]->id);
  };
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(owner.pop(), nullptr);
  for (std::uint32_t i = 0; i < 4; ++i) owner.push(ledger.item(i), overflow);
  EXPECT_EQ(ring.size(), 4u);
  EXPECT_EQ(batches, 0u);
  owner.push(ledger.item(4), overflow);  // full: 0 and 1 (the oldest) and 4 go out
  EXPECT_EQ(batches, 1u);
  EXPECT_EQ(overflowed, (std::vector<std::uint32_t>{0, 1, 4}));
  EXPECT_EQ(ring.size(), 2u);
  EXPECT_EQ(owner.pop()->id, 2u);
  EXPECT_EQ(owner.pop()->id, 3u);
  EXPECT_EQ(owner.pop(), nullptr);
  EXPECT_TRUE(ring.empty());
  // Wrapping around many times keeps FIFO order.
  std::uint32_t next_push = 5, next_pop = 5;
  for (int round = 0; round < 5; ++round) {
    for (int k = 0; k < 2; ++k) owner.push(ledger.item(next_push++ % 16), overflow);
    for (int k = 0; k < 2; ++k) EXPECT_EQ(owner.pop()->id, next_pop++ % 16);
  }
}

TEST(WorkStealingRing, StealTakesHalfRoundedUp) {
  using Ring = WorkStealingRing<Item, 256>;
  Ledger ledger(300);
  Ring victim, thief;
  auto no_overflow = [](Item**, std::size_t) { ADD_FAILURE() << "unexpected overflow"; };
  EXPECT_EQ(Ring::Stealer(victim).steal_into(thief), nullptr) << "nothing to steal";
  for (std::uint32_t i = 0; i < 7; ++i) Ring::Owner(victim).push(ledger.item(i), no_overflow);
  Item* first = Ring::Stealer(victim).steal_into(thief);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->id, 0u) << "thieves take from the head (the oldest)";
  EXPECT_EQ(thief.size(), 3u) << "4 of 7 stolen: one returned, three moved";
  EXPECT_EQ(victim.size(), 3u);
  EXPECT_EQ(Ring::Owner(thief).pop()->id, 1u);
  EXPECT_EQ(Ring::Owner(thief).pop()->id, 2u);
  EXPECT_EQ(Ring::Owner(thief).pop()->id, 3u);
  EXPECT_EQ(Ring::Owner(victim).pop()->id, 4u);
  // One item: the thief gets it and its ring stays empty.
  Ring lone;
  Ring::Owner(lone).push(ledger.item(100), no_overflow);
  Ring dst;
  EXPECT_EQ(Ring::Stealer(lone).steal_into(dst)->id, 100u);
  EXPECT_TRUE(dst.empty());
  EXPECT_TRUE(lone.empty());
  // A full ring: half of 256.
  Ring full, into;
  for (std::uint32_t i = 0; i < 256; ++i) Ring::Owner(full).push(ledger.item(i % 300), no_overflow);
  EXPECT_NE(Ring::Stealer(full).steal_into(into), nullptr);
  EXPECT_EQ(into.size(), 127u);
  EXPECT_EQ(full.size(), 128u);
}

// ---------------------------------------------------------------- one owner, three thieves

template <std::size_t Cap>
void owner_and_thieves(std::size_t n_items, std::uint64_t seed) {
  using Ring = WorkStealingRing<Item, Cap>;
  constexpr int kThieves = 3;
  Ledger ledger(n_items);
  Ring ring;
  std::vector<std::unique_ptr<Ring>> thief_rings;
  for (int i = 0; i < kThieves; ++i) thief_rings.push_back(std::make_unique<Ring>());
  std::atomic<bool> owner_done{false};
  std::atomic<bool> go{false};
  std::size_t overflow_batches = 0, overflowed = 0, popped = 0;  // owner thread only
  std::vector<std::size_t> stolen(kThieves, 0), steal_ops(kThieves, 0);

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&, t] {
      Ring& mine = *thief_rings[t];
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      unsigned idle = 0;
      for (;;) {
        // Read before trying: if the owner was done before a failed steal, nothing can come.
        const bool finished = owner_done.load(std::memory_order_acquire);
        if (Item* it = typename Ring::Stealer(ring).steal_into(mine)) {
          ++steal_ops[t];
          ledger.consume(it);
          ++stolen[t];
          while (Item* x = typename Ring::Owner(mine).pop()) {
            ledger.consume(x);
            ++stolen[t];
          }
          idle = 0;
          continue;
        }
        if (finished) break;
        if (++idle % 16 == 0) std::this_thread::yield();
        weft::detail::cpu_relax();
      }
    });
  }

  Rng rng(seed);
  auto overflow = [&](Item** items, std::size_t n) {
    EXPECT_EQ(n, Cap / 2 + 1);
    ++overflow_batches;
    for (std::size_t i = 0; i < n; ++i) {
      ledger.consume(items[i]);
      ++overflowed;
    }
  };
  go.store(true, std::memory_order_release);
  typename Ring::Owner owner(ring);
  std::size_t next = 0;
  while (next < n_items) {
    // A burst of pushes, now and then up to twice the capacity (so the ring overflows), then
    // some pops, each followed by a little "work" so that the thieves get their chance.
    std::size_t burst = rng.below(32) == 0 ? 1 + rng.below(2 * Cap) : 1 + rng.below(8);
    for (std::size_t k = 0; k < burst && next < n_items; ++k, ++next) {
      Item* it = ledger.item(next);
      it->payload = payload_of(it->id);  // published by the push
      owner.push(it, overflow);
    }
    if ((next & 1023) < burst) {
      // Now and then leave the ring to the thieves until they have emptied it (bounded): on a
      // loaded two-core machine the owner could otherwise finish before a thief is scheduled.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      while (!ring.empty() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    }
    std::size_t pops = rng.below(static_cast<std::uint32_t>(burst) + 1);
    for (std::size_t k = 0; k < pops; ++k) {
      Item* it = owner.pop();
      if (!it) break;
      ledger.consume(it);
      ++popped;
      for (int spin = 0; spin < 16; ++spin) weft::detail::cpu_relax();
    }
  }
  while (Item* it = owner.pop()) {
    ledger.consume(it);
    ++popped;
  }
  owner_done.store(true, std::memory_order_release);
  for (auto& th : thieves) th.join();

  std::size_t total_stolen = 0, total_ops = 0;
  for (int t = 0; t < kThieves; ++t) {
    total_stolen += stolen[t];
    total_ops += steal_ops[t];
    EXPECT_TRUE(thief_rings[t]->empty());
  }
  EXPECT_TRUE(ring.empty());
  EXPECT_EQ(popped + overflowed + total_stolen, n_items) << "totals match";
  ledger.verify(Cap == 4 ? "capacity 4" : "capacity 256");
  EXPECT_GT(overflow_batches, 0u) << "bursts of twice the capacity must overflow";
  EXPECT_GT(total_stolen, 0u) << "the thieves never got anything";
  ::testing::Test::RecordProperty("popped", static_cast<int>(popped));
  ::testing::Test::RecordProperty("overflowed", static_cast<int>(overflowed));
  ::testing::Test::RecordProperty("stolen", static_cast<int>(total_stolen));
  ::testing::Test::RecordProperty("steal_ops", static_cast<int>(total_ops));
}

TEST(WorkStealingRingStress, OwnerAndThreeThievesCapacity4) {
  owner_and_thieves<4>(400'000 / kScale, 1);
}

TEST(WorkStealingRingStress, OwnerAndThreeThievesCapacity256) {
  owner_and_thieves<256>(600'000 / kScale, 2);
}

// ---------------------------------------------------------------- all-to-all

template <std::size_t Cap>
void all_to_all(std::size_t per_thread, int threads, std::uint64_t seed) {
  using Ring = WorkStealingRing<Item, Cap>;
  const std::size_t n_items = per_thread * static_cast<std::size_t>(threads);
  Ledger ledger(n_items);
  std::vector<std::unique_ptr<Ring>> rings;
  for (int i = 0; i < threads; ++i) rings.push_back(std::make_unique<Ring>());
  std::atomic<bool> go{false};

  std::vector<std::thread> workers;
  for (int w = 0; w < threads; ++w) {
    workers.emplace_back([&, w] {
      Rng rng(seed * 31 + static_cast<std::uint64_t>(w));
      Ring& mine = *rings[w];
      typename Ring::Owner owner(mine);
      auto overflow = [&](Item** items, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) ledger.consume(items[i]);
      };
      std::size_t next = static_cast<std::size_t>(w) * per_thread;
      const std::size_t end = next + per_thread;
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      unsigned idle = 0;
      while (ledger.consumed() < n_items) {
        if (next < end) {
          std::size_t burst = 1 + rng.below(Cap + Cap / 2);
          for (std::size_t k = 0; k < burst && next < end; ++k, ++next) {
            Item* it = ledger.item(next);
            it->payload = payload_of(it->id);
            owner.push(it, overflow);
          }
        }
        std::size_t pops = 1 + rng.below(Cap);
        bool got = false;
        for (std::size_t k = 0; k < pops; ++k) {
          Item* it = owner.pop();
          if (!it) break;
          ledger.consume(it);
          got = true;
        }
        if (!got && mine.empty()) {
          // Dry: steal from a random other ring (into our own, which is empty).
          std::size_t v = rng.below(static_cast<std::uint32_t>(threads));
          if (v == static_cast<std::size_t>(w)) v = (v + 1) % static_cast<std::size_t>(threads);
          if (Item* it = typename Ring::Stealer(*rings[v]).steal_into(mine)) {
            ledger.consume(it);
            got = true;
          }
        }
        if (got) {
          idle = 0;
        } else if (++idle % 16 == 0) {
          std::this_thread::yield();
        }
      }
    });
  }
  go.store(true, std::memory_order_release);
  for (auto& th : workers) th.join();
  for (auto& r : rings) EXPECT_TRUE(r->empty());
  ledger.verify("all-to-all");
}

TEST(WorkStealingRingStress, AllToAllCapacity4) { all_to_all<4>(100'000 / kScale, 4, 3); }

TEST(WorkStealingRingStress, AllToAllCapacity256) { all_to_all<256>(150'000 / kScale, 4, 4); }

}  // namespace
