# dkb_module(NAME DEPS <targets...> [PRIVATE_DEPS <targets...>])
# Declares the library dkb_<NAME> from src/<NAME>/*.cpp with the public include root
# src/<NAME>/include. Only the modules listed in DEPS are visible to it, which enforces the
# dependency rule of DESIGN §2 at compile time.
# Sources named *_avx2.cpp are compiled with AVX2/FMA/F16C, *_avx512.cpp with those plus AVX-512
# F/BW/VL/VNNI; everything else for baseline x86-64.
function(dkb_module NAME)
  cmake_parse_arguments(M "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp
       ${CMAKE_CURRENT_SOURCE_DIR}/*/*.cpp)
  list(FILTER srcs EXCLUDE REGEX "/include/")
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
      endif()
    endforeach()
  else()
    add_library(dkb_${NAME} INTERFACE)
    target_include_directories(dkb_${NAME} INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
    target_link_libraries(dkb_${NAME} INTERFACE ${M_DEPS})
  endif()
endfunction()
