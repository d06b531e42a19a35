# Warning flags shared by every weft target (not exported to users).
add_library(weft_warnings INTERFACE)
target_compile_options(weft_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # g++ 12 warns on coroutine frames it cannot see through.
  target_compile_options(weft_warnings INTERFACE -Wno-mismatched-new-delete)
endif()
