# Installs the library, its headers, the CLI and a CMake package, so that another project can
#   find_package(ladle REQUIRED)  and  target_link_libraries(app PRIVATE ladle::ladle)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ladle_core ladle_trainer ladle_clustering ladle_callbacks ladle_pipelines ladle_lib
  EXPORT ladleTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ladle_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ladle_sentencepiece LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/ladle)
foreach(dir lib trainer clustering callbacks pipelines)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ladle FILES_MATCHING PATTERN "*.h")
endforeach()

set(LADLE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ladle)
install(EXPORT ladleTargets NAMESPACE ladle:: DESTINATION ${LADLE_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ladleConfig.cmake.in
  ${PROJECT_BINARY_DIR}/ladleConfig.cmake INSTALL_DESTINATION ${LADLE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/ladleConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/ladleConfig.cmake ${PROJECT_BINARY_DIR}/ladleConfigVersion.cmake
  ${PROJECT_SOURCE_DIR}/cmake/LadleDependencies.cmake DESTINATION ${LADLE_CMAKE_DIR})
