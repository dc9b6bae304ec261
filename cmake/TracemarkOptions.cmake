# Compiler flags shared by every tracemark target. Applied through an interface library so that
# third-party headers (included as SYSTEM) are not held to our warning level.
add_library(tracemark_options INTERFACE)
target_compile_options(tracemark_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wnull-dereference -Wdouble-promotion -Wformat=2 -Werror
  # GCC 12 reports std::string concatenation at -O3 as overlapping memcpy (GCC bug 105329).
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>)
if(TRACEMARK_SANITIZE)
  target_compile_options(tracemark_options INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(tracemark_options INTERFACE -fsanitize=address,undefined)
endif()

# Fuzzing (issue 12): libFuzzer instrumentation plus ASan and UBSan on every tracemark target; the
# fuzz targets themselves link -fsanitize=fuzzer (tests/fuzz/CMakeLists.txt). Needs clang.
if(TRACEMARK_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TRACEMARK_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  target_compile_options(tracemark_options INTERFACE
    -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1)
  target_link_options(tracemark_options INTERFACE -fsanitize=address,undefined)
endif()

# Build id: the git commit when available, so reports can name the exact code that made them.
execute_process(COMMAND git rev-parse --short=12 HEAD
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE TRACEMARK_GIT_COMMIT
  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT TRACEMARK_GIT_COMMIT)
  set(TRACEMARK_GIT_COMMIT "unknown")
endif()
