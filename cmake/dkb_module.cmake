# dkb_module(NAME DEPS <targets...> [PRIVATE_DEPS <targets...>])
# Declares the library dkb_<NAME> from src/<NAME>/*.cpp with the public include root
# src/<NAME>/include. Only the modules listed in DEPS are visible to it, which enforces the
# dependency rule of DESIGN §2 at compile time.
# SIMD sources by name, compiled only for their target architecture (CMAKE_SYSTEM_PROCESSOR):
# - x86-64: *_avx2.cpp with AVX2/FMA/F16C, *_avx512.cpp with those plus AVX-512 F/BW/VL/VNNI;
# - aarch64: *_neon.cpp for baseline ARMv8-A (NEON is part of it), *_dotprod.cpp with
#   -march=armv8.2-a+dotprod (sdot/udot).
# Everything else is compiled for the baseline of the target. Which levels a CPU may run is
# decided at run time (src/kernels/dispatch*.cpp).
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  set(DKB_ARCH x86_64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(DKB_ARCH aarch64)
else()
  set(DKB_ARCH other)
endif()
function(dkb_module NAME)
  cmake_parse_arguments(M "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp
       ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cpp)
  list(FILTER srcs EXCLUDE REGEX "/include/")
  if(NOT DKB_ARCH STREQUAL "x86_64")
    list(FILTER srcs EXCLUDE REGEX "_avx(2|512)\\.cpp$")
  endif()
  if(NOT DKB_ARCH STREQUAL "aarch64")
    list(FILTER srcs EXCLUDE REGEX "_(neon|dotprod)\\.cpp$")
  endif()
  if(srcs)
    add_library(dkb_${NAME} STATIC ${srcs})
    target_include_directories(dkb_${NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                               PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
    target_link_libraries(dkb_${NAME} PUBLIC ${M_DEPS} PRIVATE ${M_PRIVATE_DEPS})
    foreach(src ${srcs})
      if(src MATCHES "_avx2\\.cpp$")
        set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
      elseif(src MATCHES "_avx512\\.cpp$")
        set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
                                    "-mavx2;-mfma;-mf16c;-mavx512f;-mavx512bw;-mavx512vl;-mavx512vnni")
      elseif(src MATCHES "_dotprod\\.cpp$")
        set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-march=armv8.2-a+dotprod")
      endif()
    endforeach()
  else()
    add_library(dkb_${NAME} INTERFACE)
    target_include_directories(dkb_${NAME} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(dkb_${NAME} INTERFACE ${M_DEPS})
  endif()
endfunction()
