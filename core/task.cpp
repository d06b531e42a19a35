#include <weft/core/task.hpp>

#include <atomic>
#include <mutex>
#include <unordered_set>

namespace weft {
namespace detail {

thread_local LoopBase* tls_running_loop = nullptr;
thread_local TaskBase* tls_current_task = nullptr;

LoopBase& running_loop() {
  LoopBase* l = tls_running_loop;
  if (l == nullptr) throw RuntimeError("no running event loop");
  return *l;
}

namespace {
std::atomic<std::uint64_t> g_callback_ids{0};

std::mutex& live_loops_mu() {
  static std::mutex mu;
  return mu;
}
std::unordered_set<LoopBase*>& live_loops() {
  static std::unordered_set<LoopBase*> loops;
  return loops;
}
}  // namespace

void register_live_loop(LoopBase* loop) {
  std::lock_guard lock(live_loops_mu());
  live_loops().insert(loop);
}

void unregister_live_loop(LoopBase* loop) noexcept {
  std::lock_guard lock(live_loops_mu());
  live_loops().erase(loop);
}

bool with_live_loop(LoopBase* loop, void (*fn)(LoopBase*, void*), void* arg) noexcept {
  std::lock_guard lock(live_loops_mu());
  if (live_loops().count(loop) == 0) return false;
  fn(loop, arg);
  return true;
}

std::uint64_t next_callback_id() noexcept {
  return g_callback_ids.fetch_add(1, std::memory_order_relaxed) + 1;
}

void report_never_awaited() noexcept {
  LoopBase* l = tls_running_loop;
  if (l == nullptr || !l->debug()) return;
  l->call_exception_handler({"coroutine was never awaited", nullptr,
                             tls_current_task ? tls_current_task->get_name() : std::string()});
}

TaskBase* spawn_task(std::coroutine_handle<> h, PromiseBase& promise, LoopBase& loop,
                     TaskOptions&& options) {
  if (loop.is_closed()) {
    h.destroy();
    throw RuntimeError("Event loop is closed");
  }
  auto* prefix = static_cast<char*>(h.address()) - kFramePrefix;
  if (*reinterpret_cast<std::uint64_t*>(prefix) != kFrameCookie) {
    h.destroy();
    throw RuntimeError("create_task(): this coroutine frame has no task header");
  }
  auto* t = ::new (prefix) TaskBase(h, &loop, std::move(options.name), options.pinned);
  promise.task_ = t;
  loop.register_task(t);
  loop.spawn(t);
  return t;
}

[[noreturn]] void throw_future_done(FutureBase::State s) {
  throw InvalidStateError(s == FutureBase::kCancelled ? "invalid state: the future was cancelled"
                                                      : "invalid state: the future is already done");
}

}  // namespace detail

Task<> current_task() noexcept {
  detail::TaskBase* t = detail::tls_current_task;
  if (t == nullptr) return Task<>();
  t->add_ref();
  return Task<>(t);
}

}  // namespace weft
