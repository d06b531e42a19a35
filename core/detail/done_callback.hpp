// add_done_callback's node: owned by the future until it is done, then turned into a call_soon
// callback on the future's loop (asyncio never runs done callbacks inline in set_result).
#pragma once

#include <atomic>
#include <cstdint>
#include <utility>

#include <weft/core/detail/frame_allocator.hpp>
#include <weft/core/future_base.hpp>
#include <weft/core/handle.hpp>

namespace weft::detail {

std::uint64_t next_callback_id() noexcept;

// Owns one reference to a future.
struct Ref {
  explicit Ref(FutureBase* fut) noexcept : f(fut) { f->add_ref(); }
  Ref(Ref&& o) noexcept : f(std::exchange(o.f, nullptr)) {}
  Ref(const Ref&) = delete;
  ~Ref() {
    if (f) f->release();
  }
  FutureBase* f;
};

template <class F>  // F: void(FutureBase*)
class DoneCallbackNode final : public WaiterNode, public PooledAlloc {
 public:
  explicit DoneCallbackNode(F fn) : WaiterNode(&DoneCallbackNode::notify), fn_(std::move(fn)) {
    dispose = &DoneCallbackNode::dispose_fn;
  }

 private:
  static void notify(WaiterNode* n, FutureBase* f) noexcept {
    auto* self = static_cast<DoneCallbackNode*>(n);
    LoopBase* loop = f->loop();
    try {
      // The queued callback keeps the future alive until it has run or been dropped.
      HandleNode* h = make_callback(loop, 1, [fn = std::move(self->fn_), ref = Ref(f)]() mutable {
        fn(ref.f);
      });
      loop->post(h);
    } catch (...) {
      loop->call_exception_handler({"could not schedule a done callback", std::current_exception(), {}});
    }
    delete self;
  }
  static void dispose_fn(WaiterNode* n) noexcept { delete static_cast<DoneCallbackNode*>(n); }
  F fn_;
};

template <class F>
std::uint64_t add_done_callback(FutureBase* f, F&& fn) {
  auto* node = new DoneCallbackNode<std::decay_t<F>>(std::forward<F>(fn));
  node->id = next_callback_id();
  std::uint64_t id = node->id;
  f->add_done_callback_node(node);
  return id;
}

}  // namespace weft::detail
