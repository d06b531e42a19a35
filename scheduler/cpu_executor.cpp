#include <weft/scheduler/cpu_executor.hpp>

#include <atomic>
#include <cstdio>
#include <exception>
#include <string>
#include <utility>

#include <weft/core/detail/atomic.hpp>
#include <weft/core/errors.hpp>

namespace weft {

namespace {

// The executor whose call runs on this thread (to refuse a shutdown that would wait for itself).
thread_local const CpuExecutor* tls_cpu_executor = nullptr;

}  // namespace

// One submitted call, on the heap: the functor oneTBB copies into its task holds only a pointer.
struct CpuExecutor::Job {
  CpuExecutor* ex;
  detail::UniqueFunction fn;
};

// The functor handed to task_arena::enqueue (oneTBB stores it as `const F` in a task object from
// its own small-object pool and calls it through that const object).
//
// The job pointer is handed over with a release store (in the constructors) and an acquire load
// (in the call). oneTBB already orders enqueue before execution, but inside libtbb, which is not
// built with ThreadSanitizer; this pair makes the edge visible, so TSan checks the submitted
// callable and its captures like any other hand-off. Every access goes through atomic_ref (no
// plain write of the member), because oneTBB reuses task memory across threads unseen by TSan.
struct CpuExecutor::Call {
  explicit Call(Job* j) noexcept { publish(j); }
  Call(Call&& o) noexcept {
    publish(std::atomic_ref<Job*>(o.job_).load(detail::memory_order_relaxed));
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;
  Call& operator=(Call&&) = delete;
  ~Call() = default;

  void operator()() const {
    // acquire: pairs with the release in publish().
    Job* job = std::atomic_ref<Job*>(job_).load(detail::memory_order_acquire);
    CpuExecutor* ex = job->ex;
    const CpuExecutor* outer = std::exchange(tls_cpu_executor, ex);
    try {
      // Isolated: while this call waits inside its own parallel_for, the thread may only pick up
      // that algorithm's tasks, not another enqueued call (which would then finish first and
      // hold this one's result back for its whole duration).
      tbb::this_task_arena::isolate([job] { job->fn(); });
    } catch (...) {
      // Escaping an enqueued functor would make oneTBB abort (enqueue_task::cancel asserts).
      detail::report_escaped_exception("CpuExecutor");
    }
    delete job;  // the callable's captures die before the call counts as finished
    tls_cpu_executor = outer;
    ex->finished();  // last touch of *ex
  }

 private:
  void publish(Job* j) noexcept {
    // release: pairs with the acquire in operator().
    std::atomic_ref<Job*>(job_).store(j, detail::memory_order_release);
  }
  mutable Job* job_;  // only accessed through atomic_ref
};

// No slot is reserved for external ("master") threads: the arena is fed by enqueue, so every
// slot should be open to oneTBB's workers. (With the default reservation of one slot,
// max_concurrency = N would run at most N - 1 calls at once.) A thread calling
// arena().execute() still joins when a slot is free, and otherwise waits for its functor to run.
CpuExecutor::CpuExecutor(int max_concurrency)
    : parallelism_(std::make_unique<tbb::global_control>(
          tbb::global_control::max_allowed_parallelism,
          static_cast<std::size_t>(max_concurrency == tbb::task_arena::automatic
                                       ? tbb::this_task_arena::max_concurrency()
                                       : max_concurrency) +
              1)),
      arena_(max_concurrency, /*reserved_for_masters=*/0) {
  arena_.initialize();
}

CpuExecutor::~CpuExecutor() { shutdown(true); }

std::size_t CpuExecutor::in_flight() const {
  std::lock_guard lock(mu_);
  return in_flight_;
}

// In-flight work is tracked with a counter and a condition variable rather than a
// tbb::task_group run inside the arena: task_group::run from outside the arena needs
// arena.execute(), which blocks the caller when every slot is taken (an event loop must never
// block in submit), and task_group::wait would make the thread calling shutdown work in the arena.
// enqueue + a counter never blocks the submitter and lets shutdown simply sleep.
void CpuExecutor::submit(detail::UniqueFunction fn) {
  {
    std::lock_guard lock(mu_);
    if (shutdown_) throw RuntimeError("cannot schedule new futures after shutdown");
    ++in_flight_;
  }
  Job* job = nullptr;
  try {
    job = new Job{this, std::move(fn)};
    arena_.enqueue(Call(job));
  } catch (...) {
    delete job;
    finished();
    throw;
  }
}

void CpuExecutor::finished() noexcept {
  std::lock_guard lock(mu_);
  // Notified under mu_: shutdown(true) may destroy this executor as soon as it can lock.
  if (--in_flight_ == 0) all_done_.notify_all();
}

void CpuExecutor::shutdown(bool wait) {
  std::unique_lock lock(mu_);
  shutdown_ = true;
  if (!wait) return;
  if (tls_cpu_executor == this) {
    throw RuntimeError("CpuExecutor.shutdown(wait=true) called from one of its own calls");
  }
  all_done_.wait(lock, [this] { return in_flight_ == 0; });
}

}  // namespace weft
