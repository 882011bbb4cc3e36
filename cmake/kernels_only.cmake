# DKB_KERNELS_ONLY: the base and kernels modules and the kernel tests, nothing else: the cross
# build of scripts/test_arm64.sh, where the host's (amd64) libraries cannot be linked. Needs only
# a C++ toolchain for the target, Threads, and from the host the architecture-independent
# sources and headers of:
# - GoogleTest (libgtest-dev's /usr/src/googletest), compiled here with the target compiler;
# - spdlog and fmt (base's log facade), used header-only through a folder of links to exactly
#   those two header trees, so no other host header can shadow the target's.
set(DKB_GTEST_SOURCE_DIR /usr/src/googletest/googletest CACHE PATH "GoogleTest sources")
set(DKB_HOST_INCLUDE_DIR /usr/include CACHE PATH "Where the spdlog/ and fmt/ headers are")

foreach(lib spdlog fmt)
  if(NOT EXISTS ${DKB_HOST_INCLUDE_DIR}/${lib})
    message(FATAL_ERROR "${DKB_HOST_INCLUDE_DIR}/${lib} not found (libspdlog-dev, libfmt-dev)")
  endif()
endforeach()
set(header_only ${CMAKE_BINARY_DIR}/header_only_include)
file(MAKE_DIRECTORY ${header_only})
foreach(lib spdlog fmt)
  file(CREATE_LINK ${DKB_HOST_INCLUDE_DIR}/${lib} ${header_only}/${lib} SYMBOLIC)
endforeach()
add_library(dkb_spdlog_header_only INTERFACE)
target_include_directories(dkb_spdlog_header_only SYSTEM INTERFACE ${header_only})
target_compile_definitions(dkb_spdlog_header_only INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
add_library(spdlog::spdlog ALIAS dkb_spdlog_header_only)

if(NOT EXISTS ${DKB_GTEST_SOURCE_DIR}/src/gtest-all.cc)
  message(FATAL_ERROR "GoogleTest sources not found in ${DKB_GTEST_SOURCE_DIR} (libgtest-dev)")
endif()
add_library(dkb_gtest STATIC ${DKB_GTEST_SOURCE_DIR}/src/gtest-all.cc)
target_include_directories(dkb_gtest SYSTEM PUBLIC ${DKB_GTEST_SOURCE_DIR}/include
                           PRIVATE ${DKB_GTEST_SOURCE_DIR})
target_link_libraries(dkb_gtest PUBLIC Threads::Threads)
add_library(dkb_gtest_main STATIC ${DKB_GTEST_SOURCE_DIR}/src/gtest_main.cc)
target_link_libraries(dkb_gtest_main PUBLIC dkb_gtest)
add_library(GTest::gtest ALIAS dkb_gtest)
add_library(GTest::gtest_main ALIAS dkb_gtest_main)

add_subdirectory(src/base)
add_subdirectory(src/kernels)
if(DKB_BUILD_TESTS)
  enable_testing()
  add_subdirectory(tests)
endif()
