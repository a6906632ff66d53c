# install.cmake — what `cmake --install build --prefix P` puts under P, and
# the packages that find it there (docs/install.md):
#   bin/nnc                          the compiler
#   lib/libnnrt.a, lib/libnnrt.so.0.1  the runtime, for objects nnc wrote
#   lib/nnc/nnrt.bc                  the runtime as bitcode, for nnc at -O3
#   include/nnc/                     the runtime's headers
#   lib/cmake/nnc/                   find_package(nnc): nnc::nnc,
#                                    nnc::runtime, nnc_add_model()
#   lib/pkgconfig/nnrt.pc            the runtime for pkg-config
#   share/man/man1/nnc.1             made from `nnc --help`
#   share/doc/nnc/                   the docs
#   lib/python3/dist-packages/nnc/   the Python package
# nnc finds its runtime relative to its own folder, so the prefix can move.
include(CMakePackageConfigHelpers)

install(TARGETS nnc EXPORT nncTargets RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS nnc-viz RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set_target_properties(nnrt_shared PROPERTIES EXPORT_NAME runtime)
set_target_properties(nnrt PROPERTIES EXPORT_NAME runtime_static)
install(TARGETS nnrt nnrt_shared EXPORT nncTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${RT}/nnrt.h ${RT}/nnrt_api.h ${RT}/nn_model_desc.h ${RT}/nnrt_vmath.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nnc)
if(TARGET nnrt_bc)
  install(FILES ${GEN}/nnrt.bc DESTINATION ${CMAKE_INSTALL_LIBDIR}/nnc)
endif()
install(EXPORT nncTargets NAMESPACE nnc:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnc)
configure_package_config_file(${PROJECT_SOURCE_DIR}/tools/nncConfig.cmake.in ${GEN}/nncConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnc)
write_basic_package_version_file(${GEN}/nncConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${GEN}/nncConfig.cmake ${GEN}/nncConfigVersion.cmake DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nnc)

# pkg-config: the prefix from the .pc file's own place, so it moves too
file(RELATIVE_PATH pc_to_prefix /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" pc_to_prefix "${pc_to_prefix}")
set(NNC_PC_OPENMP "")
if(NNC_LIBOMP)
  set(NNC_PC_OPENMP ${NNC_LIBOMP})
elseif(OpenMP_C_FOUND)
  string(JOIN " " NNC_PC_OPENMP ${OpenMP_C_LIBRARIES})
endif()
# The shared runtime calls the OpenMP library that nnc's objects call (at
# -O3 their code comes from clang's bitcode and calls libomp, which also
# serves the C compiler's libgomp calls), so a program loads one of them.
if(NNC_LIBOMP)
  target_link_libraries(nnrt_shared PRIVATE ${NNC_LIBOMP})
elseif(OpenMP_C_FOUND)
  target_link_libraries(nnrt_shared PRIVATE OpenMP::OpenMP_C)
endif()
configure_file(${PROJECT_SOURCE_DIR}/tools/nnrt.pc.in ${GEN}/nnrt.pc @ONLY)
install(FILES ${GEN}/nnrt.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# nnc(1), from the help text of the nnc just built
add_custom_command(OUTPUT ${GEN}/nnc.1
  COMMAND ${CMAKE_COMMAND} -DNNC=$<TARGET_FILE:nnc> -DOUT=${GEN}/nnc.1 -DVERSION=${PROJECT_VERSION}
          -P ${PROJECT_SOURCE_DIR}/tools/manpage.cmake
  DEPENDS nnc ${PROJECT_SOURCE_DIR}/tools/manpage.cmake)
add_custom_target(nnc_man ALL DEPENDS ${GEN}/nnc.1)
install(FILES ${GEN}/nnc.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
file(GLOB nnc_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${nnc_docs} ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})

# the Python package (docs/python.md): PYTHONPATH=P/lib/python3/dist-packages
install(DIRECTORY ${PROJECT_SOURCE_DIR}/python/nnc DESTINATION lib/python3/dist-packages
        FILES_MATCHING PATTERN "*.py" PATTERN "__pycache__" EXCLUDE)
