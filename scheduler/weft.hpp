// The umbrella header: everything a weft user needs.
#pragma once

#include <weft/core/coro.hpp>
#include <weft/core/errors.hpp>
#include <weft/core/future.hpp>
#include <weft/core/handle.hpp>
#include <weft/core/sleep.hpp>
#include <weft/core/task.hpp>
#include <weft/scheduler/cpu_executor.hpp>
#include <weft/scheduler/event_loop.hpp>
#include <weft/scheduler/executor.hpp>
#include <weft/scheduler/metrics.hpp>
#include <weft/scheduler/run_coroutine_threadsafe.hpp>
#include <weft/scheduler/runtime.hpp>
#include <weft/scheduler/thread_pool_executor.hpp>
#include <weft/scheduler/to_thread.hpp>
