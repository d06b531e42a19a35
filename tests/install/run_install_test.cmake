# The install test (ctest label `install`): install a weft build tree into a fresh prefix, then
# configure, build and run tests/install/consumer against that prefix with find_package(weft).
#
#   cmake -DWEFT_BINARY_DIR=<weft build> -DWORK_DIR=<scratch dir> -DGENERATOR=<gen>
#         [-DCXX_COMPILER=... -DBUILD_TYPE=... -DCXX_FLAGS=... -DLINKER_FLAGS=...]
#         -P run_install_test.cmake
#
# The consumer is built with weft's compiler, build type and flags, so a sanitizer build of weft
# is consumed by a sanitizer build of the consumer.
cmake_minimum_required(VERSION 3.25)

foreach(var WEFT_BINARY_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_install_test.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(consumer_build "${WORK_DIR}/consumer-build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(step what)
  message(STATUS "install test: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: '${what}' failed (${rc})")
  endif()
endfunction()

step("install ${WEFT_BINARY_DIR} into ${prefix}"
  "${CMAKE_COMMAND}" --install "${WEFT_BINARY_DIR}" --prefix "${prefix}")

# The package must be found from the prefix alone, never from the build tree or a user
# package registry.
set(args -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
foreach(pair CXX_COMPILER:CMAKE_CXX_COMPILER BUILD_TYPE:CMAKE_BUILD_TYPE CXX_FLAGS:CMAKE_CXX_FLAGS
             LINKER_FLAGS:CMAKE_EXE_LINKER_FLAGS)
  string(REPLACE ":" ";" pair "${pair}")
  list(GET pair 0 from)
  list(GET pair 1 to)
  if(NOT "${${from}}" STREQUAL "")
    list(APPEND args "-D${to}=${${from}}")
  endif()
endforeach()
step("configure the consumer"
  "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/consumer" -B "${consumer_build}" ${args})

# Check that weft really came from the prefix.
file(STRINGS "${consumer_build}/CMakeCache.txt" weft_dir_line REGEX "^weft_DIR:")
string(REGEX REPLACE "^weft_DIR:[A-Z]+=" "" weft_dir "${weft_dir_line}")
file(REAL_PATH "${prefix}" real_prefix)
file(REAL_PATH "${weft_dir}" real_weft_dir)
string(FIND "${real_weft_dir}" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "install test: weft was found in '${weft_dir}', not under '${prefix}'")
endif()

step("build the consumer" "${CMAKE_COMMAND}" --build "${consumer_build}")

step("run the consumer" "${consumer_build}/weft_consumer")
