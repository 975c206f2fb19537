# The layers of ladle, one static library per folder, each linking only the layers below it
# (docs/architecture.md draws the stack):
#
#   cli/ (the ladle program) -> pipelines/ -> callbacks/ -> trainer/, clustering/ -> lib/
#
# Two checks make a wrong-way dependency a build error rather than a convention:
#   - before a layer compiles, cmake/CheckLayerIncludes.cmake refuses any #include "FOLDER/..." of a folder the
#     layer may not use (it catches header-only uses too);
#   - the layer's link check links every object of the layer (whole archive) against the layers below it alone, so a
#     reference to a symbol of a higher layer is an undefined reference.

set(LADLE_LAYER_CHECK_MAIN ${CMAKE_CURRENT_LIST_DIR}/layer_check/main.cpp)

# ladle_layer(TARGET FOLDER [BELOW targets...] [USES folders...] [EXCLUDE regex])
#   TARGET  the library, e.g. ladle_trainer
#   FOLDER  its sources and headers, relative to the repository root
#   BELOW   the layer libraries it links (PUBLIC)
#   USES    the folders its files may include besides their own (those of the layers below)
#   EXCLUDE a regular expression of sources that are not part of the library
function(ladle_layer target folder)
  cmake_parse_arguments(LAYER "" "EXCLUDE" "BELOW;USES" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.cpp)
  file(GLOB_RECURSE headers CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/${folder}/*.h)
  if(LAYER_EXCLUDE)
    list(FILTER sources EXCLUDE REGEX "${LAYER_EXCLUDE}")
    list(FILTER headers EXCLUDE REGEX "${LAYER_EXCLUDE}")
  endif()

  set(stamp ${PROJECT_BINARY_DIR}/layer_checks/${target}.includes-checked)
  list(JOIN LAYER_USES ", " uses_text)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} -DLAYER=${folder} "-DALLOWED=${folder};${LAYER_USES}"
            -DROOT=${PROJECT_SOURCE_DIR} -DSTAMP=${stamp}
            -P ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
    DEPENDS ${sources} ${headers} ${PROJECT_SOURCE_DIR}/cmake/CheckLayerIncludes.cmake
    COMMENT "Checking that ${folder}/ includes only ${folder}/ and the layers below (${uses_text})" VERBATIM)
  add_custom_target(${target}_includes DEPENDS ${stamp})

  add_library(${target} STATIC ${sources})
  add_library(ladle::${target} ALIAS ${target})
  add_dependencies(${target} ${target}_includes)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${target})
  target_include_directories(${target} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/ladle>)
  target_compile_options(${target} PRIVATE -Wall -Wextra)
  target_link_libraries(${target} PUBLIC ${LAYER_BELOW})
  if(LADLE_SANITIZE)
    # An instrumented static library needs the sanitizer runtimes in whatever links it, installed consumers too.
    target_link_options(${target} INTERFACE -fsanitize=address,undefined)
  endif()

  add_executable(${target}_link_check ${LADLE_LAYER_CHECK_MAIN})
  target_link_libraries(${target}_link_check PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,${target}>" ${LAYER_BELOW})
  set_property(GLOBAL APPEND PROPERTY LADLE_LAYERS ${target})
endfunction()
