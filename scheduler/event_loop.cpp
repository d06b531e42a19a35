#include <weft/scheduler/event_loop.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <thread>

#include <weft/scheduler/runtime.hpp>

namespace weft {

namespace {
// The loop this thread runs, as its concrete type (core keeps the LoopBase* twin).
thread_local EventLoop* tls_loop = nullptr;
}  // namespace

namespace detail {
EventLoop& to_event_loop(LoopBase* loop) noexcept { return *static_cast<EventLoop*>(loop); }
}  // namespace detail

EventLoop& get_running_loop() {
  if (tls_loop == nullptr) throw RuntimeError("no running event loop");
  return *tls_loop;
}

EventLoop::EventLoop(Runtime& rt, std::size_t index, bool single_worker, bool debug)
    : rt_(rt),
      index_(index),
      single_(single_worker),
      debug_(debug),
      slow_callback_duration_(rt.options().slow_callback_duration),
      rng_(0x9e3779b97f4a7c15ull * (index + 1)) {
  detail::register_live_loop(this);
}

EventLoop::~EventLoop() {
  detail::unregister_live_loop(this);
  close();
}

void EventLoop::close() noexcept {
  closed_.store(true, detail::memory_order_release);
  // A foreign thread may still be inside push_inbox() (it published an item we consumed and
  // has not finished waking us): let it leave before the reactor goes.
  while (wakers_.load(detail::memory_order_acquire) != 0) std::this_thread::yield();
  // Whatever is still queued (callbacks never run) is dropped; tasks were all finished by
  // Runtime::close before this.
  auto drop = [](detail::Runnable* r) {
    if (r->kind() == detail::Runnable::Kind::kCallback) static_cast<detail::HandleNode*>(r)->release();
  };
  while (detail::Runnable* r = local_.pop_front()) drop(r);
  std::size_t n;
  for (detail::Runnable* r = inbox_.take_all(&n); r;) {
    detail::Runnable* next = r->next_;
    drop(r);
    r = next;
  }
  timers_.clear();
}

void EventLoop::check_open() const {
  if (is_closed()) throw RuntimeError("Event loop is closed");
}

bool EventLoop::on_loop_thread() const noexcept { return tls_loop == this; }

void EventLoop::enter() noexcept {
  tls_loop = this;
  detail::tls_running_loop = this;
  running_.store(true, detail::memory_order_release);
}

void EventLoop::leave() noexcept {
  running_.store(false, detail::memory_order_release);
  tls_loop = nullptr;
  detail::tls_running_loop = nullptr;
}

// ---------------------------------------------------------------- scheduling

void EventLoop::push_inbox(detail::Runnable* r) noexcept {
  // relaxed increment is enough: close() waits for zero with acquire after every producer it
  // must wait for has incremented (they hold references that keep the loop alive until then);
  // release decrement: pairs with that acquire, so the wake() below happens-before teardown.
  wakers_.fetch_add(1, detail::memory_order_relaxed);
  inbox_.push(r);
  wake();
  wakers_.fetch_sub(1, detail::memory_order_release);
}

void EventLoop::wake() noexcept {
  // seq_cst load: the second half of the Dekker pair with park() (see inbox.hpp). The exchange
  // makes sure only one of several concurrent wakers pays for the syscall.
  if (parked_.load(detail::memory_order_seq_cst) &&
      parked_.exchange(false, detail::memory_order_seq_cst)) {
    reactor_.wake();
  }
}

void EventLoop::push_ring(detail::Runnable* r) {
  Ring::Owner(ring_).push(r, [this](detail::Runnable** items, std::size_t n) {
    rt_.inject().push_batch(items, n);
    counters_.overflows.add();
  });
}

void EventLoop::push_local_ready(detail::Runnable* r, bool lifo) {
  if (single_ || r->pinned()) {
    local_.push_back(r);
    return;
  }
  if (lifo) {
    // The woken task takes the slot; the one it displaces becomes stealable.
    detail::Runnable* prev = std::exchange(lifo_slot_, r);
    if (prev == nullptr) {
      if (!ring_.empty()) rt_.notify_work();
      return;
    }
    r = prev;
  }
  push_ring(r);
  rt_.notify_work();
}

void EventLoop::schedule(detail::TaskBase* task) noexcept {
  EventLoop* here = tls_loop;
  if (here != nullptr && &here->rt_ == &rt_ && !(task->pinned() && here != this)) {
    // A worker of this runtime woke it: it runs here (it migrates unless pinned).
    here->push_local_ready(task, /*lifo=*/true);
    return;
  }
  // From outside the runtime, or a pinned task woken elsewhere: through this loop's inbox
  // (the call_soon_threadsafe path).
  push_inbox(task);
}

void EventLoop::spawn(detail::TaskBase* task) noexcept {
  if (on_loop_thread()) {
    push_local_ready(task, /*lifo=*/false);
  } else {
    push_inbox(task);
  }
}

void EventLoop::yield(detail::TaskBase* task) noexcept {
  // Runs after the next poll: with one worker (or pinned) it goes to the back of local_ with a
  // note to poll before it runs; otherwise it waits in deferred_ until the poll releases it.
  if (single_ || task->pinned()) {
    task->yield_epoch_ = poll_epoch_ + 1;
    local_.push_back(task);
  } else {
    deferred_.push_back(task);
  }
}

void EventLoop::post(detail::HandleNode* node) {
  if (on_loop_thread()) {
    local_.push_back(node);
  } else {
    push_inbox(node);
  }
}

// post() already routes by thread; the two names stay because core asks for both.
void EventLoop::post_threadsafe(detail::HandleNode* node) { post(node); }

void EventLoop::register_task(detail::TaskBase* task) noexcept {
  // Tasks are listed by the loop that created them; the registry lock is uncontended unless
  // a task finishes on another worker or all_tasks() runs.
  EventLoop* here = tls_loop;
  (here != nullptr && &here->rt_ == &rt_ ? here : this)->registry_.add(task);
}

// ---------------------------------------------------------------- timers

void EventLoop::add_timer(detail::TimerNode* node) { timers_.push(node); }

void EventLoop::add_timer_any_thread(detail::TimerNode* node) {
  if (on_loop_thread()) {
    timers_.push(node);  // the heap's reference is the node's second one
    return;
  }
  // Hand the insertion to the owning thread. The node keeps its two references: one travels
  // into the heap, one is the caller's TimerHandle (no extra one: that leaked every node).
  auto* carrier = detail::make_callback(this, 1, [this, node] { timers_.push(node); });
  post_threadsafe(carrier);
}

void EventLoop::remove_timer(detail::TimerNode* node) noexcept {
  if (on_loop_thread()) {
    timers_.remove(node);
  } else {
    // relaxed: a count that only decides when to purge; the node's own state is what matters.
    foreign_cancels_.fetch_add(1, detail::memory_order_relaxed);
  }
}

void EventLoop::fire_timers() {
  if (timers_.empty()) return;
  Clock::time_point t = now();
  while (detail::TimerNode* top = timers_.top()) {
    if (top->cancelled()) {
      timers_.pop()->release();
      continue;
    }
    if (top->when_ > t) break;
    detail::TimerNode* n = timers_.pop();
    counters_.timers_fired.add();
    if (n->direct_) {
      if (n->claim()) n->invoke_now();  // a sleep: makes its task ready
      n->release();
    } else {
      local_.push_back(n);  // the heap's reference travels with it
    }
  }
  // Timers cancelled from other threads stay in the heap until they reach the top; once they
  // could be half of it, sweep them (O(n), so amortised O(1) per cancellation).
  std::uint32_t foreign = foreign_cancels_.load(detail::memory_order_relaxed);
  if (foreign >= kPurgeThreshold && foreign >= timers_.size() / 2) {
    foreign_cancels_.store(0, detail::memory_order_relaxed);
    timers_.purge_cancelled();
  }
}

std::chrono::nanoseconds EventLoop::next_timer_timeout() const noexcept {
  detail::TimerNode* top = timers_.top();
  if (top == nullptr) return std::chrono::nanoseconds(-1);
  auto d = top->when_ - now();
  if (d <= Clock::duration::zero()) return std::chrono::nanoseconds(0);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d);
}

// ---------------------------------------------------------------- the worker loop

void EventLoop::drain_inbox() {
  std::size_t n;
  detail::Runnable* r = inbox_.take_all(&n);
  if (r == nullptr) return;
  counters_.inbox_pops.add(n);
  while (r) {
    detail::Runnable* next = r->next_;
    if (single_ || r->pinned()) {
      local_.push_back(r);
    } else {
      push_ring(r);
    }
    r = next;
  }
  if (!single_ && !ring_.empty()) rt_.notify_work();
}

void EventLoop::maintenance(std::chrono::nanoseconds timeout) {
  drain_inbox();
  if (timeout.count() != 0 || reactor_.has_io()) {
    counters_.polls.add();
    reactor_.wait(timeout);
  }
  ++poll_epoch_;
  drain_inbox();
  fire_timers();
  if (!deferred_.empty()) {
    detail::Runnable* last;
    std::size_t n;
    for (detail::Runnable* r = deferred_.take_all(&last, &n); r;) {
      detail::Runnable* next = r->next_;
      push_ring(r);
      r = next;
    }
    rt_.notify_work();
  }
}

detail::Runnable* EventLoop::take_from_inject() {
  detail::Runnable* batch[kRingCapacity / 2];
  std::size_t want = std::min<std::size_t>(kRingCapacity / 2,
                                           rt_.inject().size() / rt_.workers() + 1);
  std::size_t n = rt_.inject().pop_batch(batch, want);
  if (n == 0) return nullptr;
  for (std::size_t i = 1; i < n; ++i) push_ring(batch[i]);
  if (n > 1) rt_.notify_work();
  return batch[0];
}

detail::Runnable* EventLoop::steal() {
  const std::size_t workers = rt_.workers();
  // xorshift64: a random first victim spreads thieves over the victims.
  rng_ ^= rng_ << 13;
  rng_ ^= rng_ >> 7;
  rng_ ^= rng_ << 17;
  std::size_t start = static_cast<std::size_t>(rng_ % workers);
  for (std::size_t i = 0; i < workers; ++i) {
    std::size_t v = (start + i) % workers;
    if (v == index_) continue;
    Ring& victim = rt_.loop(v).ring();
    std::size_t before = ring_.size();
    if (detail::Runnable* r = Ring::Stealer(victim).steal_into(ring_)) {
      counters_.steals.add();
      counters_.stolen.add(1 + ring_.size() - before);
      return r;
    }
  }
  return take_from_inject();
}

detail::Runnable* EventLoop::next_runnable() {
  if (++tick_ % kMaintenanceInterval == 0) {
    maintenance(std::chrono::nanoseconds(0));
    if (!single_) {
      // Fairness for the global queue: take one from it before local work.
      if (detail::Runnable* r = take_from_inject()) return r;
    }
  }
  if (single_) {
    detail::Runnable* r = local_.pop_front();
    if (r && r->kind() == detail::Runnable::Kind::kTask &&
        static_cast<detail::TaskBase*>(r)->yield_epoch_ == poll_epoch_ + 1) {
      // A sleep(0)ed task: the loop polls before running it again (asyncio's iteration).
      maintenance(std::chrono::nanoseconds(0));
    }
    return r;
  }
  // Callbacks and pinned tasks alternate with stealable ones so neither side starves.
  if (!local_.empty() && ((tick_ & 1) || (lifo_slot_ == nullptr && ring_.empty()))) {
    detail::Runnable* r = local_.pop_front();
    if (r->kind() == detail::Runnable::Kind::kTask &&
        static_cast<detail::TaskBase*>(r)->yield_epoch_ == poll_epoch_ + 1) {
      maintenance(std::chrono::nanoseconds(0));
    }
    return r;
  }
  if (lifo_slot_ != nullptr) {
    if (lifo_runs_ < kMaxLifoRuns) {
      ++lifo_runs_;
      return std::exchange(lifo_slot_, nullptr);
    }
    // Bound reached: the slot's task goes behind the others.
    push_ring(std::exchange(lifo_slot_, nullptr));
  }
  lifo_runs_ = 0;
  if (detail::Runnable* r = Ring::Owner(ring_).pop()) return r;
  if (detail::Runnable* r = local_.pop_front()) return r;
  return take_from_inject();
}

void EventLoop::run_one(detail::Runnable* r) noexcept {
  const bool is_task = r->kind() == detail::Runnable::Kind::kTask;
  if (is_task) {
    static_cast<detail::TaskBase*>(r)->set_loop(this);
    counters_.tasks_run.add();
  } else {
    counters_.callbacks_run.add();
  }
  if (!debug_) {
    r->run();
    return;
  }
  std::string what = is_task ? "Task " + static_cast<detail::TaskBase*>(r)->get_name() : "callback";
  Clock::time_point t0 = now();
  r->run();
  Clock::duration took = now() - t0;
  if (took >= slow_callback_duration_) report_slow(what, took);
}

void EventLoop::report_slow(const std::string& what, Clock::duration took) noexcept {
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f", std::chrono::duration<double>(took).count());
  call_exception_handler({"Executing " + what + " took " + secs + " seconds", nullptr,
                          what.rfind("Task ", 0) == 0 ? what.substr(5) : std::string()});
}

void EventLoop::park(const detail::atomic<bool>& stop) {
  if (!single_) {
    if (searching_) {
      searching_ = false;
      rt_.stop_searching();
    }
    rt_.register_parked(this);
  }
  // seq_cst store: Dekker pair with Inbox::push + wake() (see inbox.hpp).
  parked_.store(true, detail::memory_order_seq_cst);
  // seq_cst loads of stop/stopping: Dekker pair with the seq_cst store + wake() of whoever
  // sets them (StopWhenDone, Runtime::close): either they see parked_ and wake us, or we see
  // the flag here.
  bool work = !inbox_.empty() || stop.load(detail::memory_order_seq_cst) ||
              rt_.stopping().load(detail::memory_order_seq_cst) || (!single_ && rt_.has_work());
  if (!work) {
    counters_.parks.add();
    counters_.polls.add();
    reactor_.wait(next_timer_timeout());
  }
  parked_.store(false, detail::memory_order_relaxed);
  if (!single_) {
    rt_.unregister_parked(this);
    if (searching_wake_.exchange(false, detail::memory_order_acquire)) searching_ = true;
  }
  ++poll_epoch_;
  drain_inbox();
  fire_timers();
}

void EventLoop::run_until(const detail::atomic<bool>& stop) {
  const bool multi = !single_;
  while (!stop.load(detail::memory_order_acquire)) {
    if (detail::Runnable* r = next_runnable()) {
      run_one(r);
      continue;
    }
    // Out of local work: look at the inbox, timers and I/O without blocking.
    maintenance(std::chrono::nanoseconds(0));
    if (!local_.empty() || !ring_.empty() || lifo_slot_ != nullptr) continue;
    if (multi) {
      if (!searching_ && rt_.try_start_searching()) searching_ = true;
      if (searching_) {
        if (detail::Runnable* r = steal()) {
          searching_ = false;
          // The last searcher to find work wakes another, so stealing keeps going while
          // there is work to spread (Tokio's transition_worker_from_searching).
          if (rt_.stop_searching()) rt_.notify_work();
          run_one(r);
          continue;
        }
      }
    }
    if (stop.load(detail::memory_order_acquire)) break;
    park(stop);
  }
  if (searching_) {
    searching_ = false;
    rt_.stop_searching();
  }
}

// ---------------------------------------------------------------- exception handler

void EventLoop::set_exception_handler(ExceptionHandler handler) {
  std::lock_guard lock(handler_mu_);
  handler_ = std::move(handler);
}

void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
  ExceptionHandler h;
  {
    std::lock_guard lock(handler_mu_);
    h = handler_;
  }
  if (!h) {
    default_exception_handler(context);
    return;
  }
  try {
    h(*this, context);
  } catch (...) {
    // asyncio: "Unhandled error in exception handler", then the default handler.
    default_exception_handler({"Unhandled error in exception handler", std::current_exception(), {}});
    default_exception_handler(context);
  }
}

void EventLoop::default_exception_handler(const ExceptionContext& context) noexcept {
  std::string text = "weft: " + context.message;
  if (!context.task_name.empty()) text += "\n  task: " + context.task_name;
  if (context.exception) {
    try {
      std::rethrow_exception(context.exception);
    } catch (const std::exception& e) {
      text += std::string("\n  exception: ") + e.what();
    } catch (...) {
      text += "\n  exception: (not a std::exception)";
    }
  }
  text += '\n';
  std::fputs(text.c_str(), stderr);
}

}  // namespace weft
