#include <weft/scheduler/runtime.hpp>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <weft/scheduler/thread_pool_executor.hpp>

namespace weft {

namespace {
bool env_debug() {
  const char* v = std::getenv("WEFT_DEBUG");
  return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
}
}  // namespace

Runtime::Runtime(RunOptions options) : options_(options) {
  std::size_t n = options_.workers;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  options_.workers = n;
  options_.debug = options_.debug || env_debug();
  loops_.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(*this, i, n == 1, options_.debug));
  }
  threads_.reserve(n - 1);
  for (std::size_t i = 1; i < n; ++i) threads_.emplace_back([this, i] { worker_main(i); });
}

Runtime::~Runtime() { close(); }

void Runtime::worker_main(std::size_t index) {
  EventLoop& l = *loops_[index];
  l.enter();
  l.run_until(stopping_);
  l.leave();
}

std::vector<WorkerMetrics> Runtime::metrics() const {
  std::vector<WorkerMetrics> out;
  out.reserve(loops_.size());
  for (const auto& l : loops_) out.push_back(l->metrics());
  return out;
}

Executor& Runtime::default_executor() {
  std::lock_guard lock(executor_mu_);
  if (!default_executor_) {
    std::size_t bound = options_.max_blocking_threads;
    if (bound == 0) bound = std::min<std::size_t>(32, std::thread::hardware_concurrency() + 4);
    default_executor_ = std::make_shared<ThreadPoolExecutor>(bound);
  }
  return *default_executor_;
}

void Runtime::set_default_executor(std::shared_ptr<Executor> executor) {
  std::lock_guard lock(executor_mu_);
  if (default_executor_) retired_executors_.push_back(std::move(default_executor_));
  default_executor_ = std::move(executor);
}

// ---------------------------------------------------------------- idle coordination

void Runtime::notify_work() noexcept {
  // seq_cst fence: pairs with the fence in has_work()'s caller (park): either we see the
  // parker registered, or it sees the work we just pushed.
  std::atomic_thread_fence(detail::memory_order_seq_cst);
  if (num_searching_.load(detail::memory_order_relaxed) != 0) return;
  if (num_parked_.load(detail::memory_order_relaxed) == 0) return;
  EventLoop* target = nullptr;
  {
    std::lock_guard lock(idle_mu_);
    // Re-check under the lock: someone else may have woken a searcher meanwhile.
    if (parked_.empty() || num_searching_.load(detail::memory_order_relaxed) != 0) return;
    target = parked_.back();
    parked_.pop_back();
    num_parked_.fetch_sub(1, detail::memory_order_relaxed);
    // The woken worker starts out searching; counting it now stops other notifiers from
    // waking a second one for the same work.
    num_searching_.fetch_add(1, detail::memory_order_seq_cst);
    target->searching_wake_.store(true, detail::memory_order_release);
  }
  target->wake();
}

bool Runtime::try_start_searching() noexcept {
  // At most half the workers search: more only burn CPU bouncing the same cache lines.
  int s = num_searching_.load(detail::memory_order_relaxed);
  if (2 * static_cast<std::size_t>(s) >= loops_.size()) return false;
  num_searching_.fetch_add(1, detail::memory_order_seq_cst);
  return true;
}

bool Runtime::stop_searching() noexcept {
  return num_searching_.fetch_sub(1, detail::memory_order_seq_cst) == 1;
}

void Runtime::register_parked(EventLoop* l) {
  std::lock_guard lock(idle_mu_);
  parked_.push_back(l);
  num_parked_.fetch_add(1, detail::memory_order_seq_cst);
}

void Runtime::unregister_parked(EventLoop* l) {
  std::lock_guard lock(idle_mu_);
  auto it = std::find(parked_.begin(), parked_.end(), l);
  if (it != parked_.end()) {
    parked_.erase(it);
    num_parked_.fetch_sub(1, detail::memory_order_relaxed);
  }
}

bool Runtime::has_work() const noexcept {
  // seq_cst fence: the parker's half of the pair with notify_work().
  std::atomic_thread_fence(detail::memory_order_seq_cst);
  if (inject_.size() != 0) return true;
  for (const auto& l : loops_) {
    if (!l->ring_.empty()) return true;
  }
  return false;
}

// ---------------------------------------------------------------- tasks and shutdown

std::vector<Task<>> Runtime::all_tasks() const {
  std::vector<Task<>> out;
  for (const auto& l : loops_) {
    l->registry().for_each([&](detail::TaskBase* t) {
      if (t->done()) return;
      t->add_ref();
      out.emplace_back(t);
    });
  }
  return out;
}

std::vector<Task<>> all_tasks() {
  return get_running_loop().runtime().all_tasks();
}

void Runtime::drive_until_done(const std::vector<detail::TaskBase*>& tasks) {
  EventLoop& l0 = *loops_[0];
  detail::StopWhenDone done;
  done.loop = &l0;
  std::vector<detail::StopNode> nodes(tasks.size());
  done.remaining.store(1, detail::memory_order_relaxed);  // held until all are registered
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    nodes[i].group = &done;
    done.remaining.fetch_add(1, detail::memory_order_relaxed);
    if (!tasks[i]->add_waiter(&nodes[i])) {
      done.remaining.fetch_sub(1, detail::memory_order_relaxed);
    }
  }
  if (done.remaining.fetch_sub(1, detail::memory_order_acq_rel) == 1) return;
  l0.run_until(done.stop);
}

void Runtime::cancel_all_tasks() {
  // asyncio.run's _cancel_all_tasks: cancel, wait for all, report the ones that failed with
  // something other than CancelledError. Repeats while cancelling spawns new tasks.
  for (int round = 0; round < 100; ++round) {
    std::vector<Task<>> tasks = all_tasks();
    if (tasks.empty()) return;
    std::vector<detail::TaskBase*> bases;
    for (auto& t : tasks) {
      t.cancel();
      bases.push_back(t.base());
    }
    drive_until_done(bases);
    for (auto& t : tasks) {
      if (t.cancelled() || !t.done()) continue;
      if (auto e = t.base()->exception()) {
        loops_[0]->call_exception_handler(
            {"unhandled exception during weft::run() shutdown", e, t.get_name()});
      }
    }
  }
}

void Runtime::close() {
  if (closed_) return;
  if (detail::tls_running_loop != nullptr) {
    throw RuntimeError("Runner.close() cannot be called from a running event loop");
  }
  EventLoop& l0 = *loops_[0];
  l0.enter();
  cancel_all_tasks();
  l0.leave();
  {
    std::vector<std::shared_ptr<Executor>> executors;
    {
      std::lock_guard lock(executor_mu_);
      executors = retired_executors_;
      if (default_executor_) executors.push_back(default_executor_);
    }
    for (auto& ex : executors) ex->shutdown(true);
    // Results of executor calls that were still on their way arrive through the inboxes;
    // their tasks are done already, so they only release references.
  }
  stopping_.store(true, detail::memory_order_seq_cst);  // Dekker pair with park()
  for (auto& l : loops_) l->wake();
  for (auto& t : threads_) t.join();
  threads_.clear();
  // From here nothing may start: a callback run by the final drain that tries create_task /
  // call_soon gets RuntimeError("Event loop is closed") (reported to the exception handler)
  // instead of leaving a task that would never run.
  for (auto& l : loops_) l->closed_.store(true, detail::memory_order_release);
  l0.enter();
  l0.maintenance(std::chrono::nanoseconds(0));
  while (detail::Runnable* r = l0.local_.pop_front()) l0.run_one(r);
  l0.leave();
  for (auto& l : loops_) l->close();
  closed_ = true;
}

}  // namespace weft
