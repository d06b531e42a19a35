#include <weft/scheduler/executor.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace weft::detail {

void report_escaped_exception(const char* executor) noexcept {
  try {
    std::string text = std::string("weft: exception escaped a ") + executor + " call";
    try {
      throw;
    } catch (const std::exception& e) {
      text += std::string(": ") + e.what();
    } catch (...) {
    }
    text += '\n';
    std::fputs(text.c_str(), stderr);
  } catch (...) {
  }
}

}  // namespace weft::detail
