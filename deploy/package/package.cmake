# Install rules, man pages and the Debian package (README, "Running as a
# service"). Included by the top-level CMakeLists.txt after the targets.
include(GNUInstallDirs)

set(CISHARE_PKG_DIR ${CMAKE_CURRENT_LIST_DIR})

# Man pages from the built binary's --help, so they cannot drift from it.
# LeakSanitizer stays off here: this runs the program to build, not to test.
set(CISHARE_MAN_DIR ${CMAKE_BINARY_DIR}/man)
add_custom_command(
  OUTPUT ${CISHARE_MAN_DIR}/stamp
  COMMAND ${CMAKE_COMMAND} -E rm -rf ${CISHARE_MAN_DIR}
  COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0
          sh ${CISHARE_PKG_DIR}/help2man.sh --gzip $<TARGET_FILE:cishare>
          ${CISHARE_MAN_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${CISHARE_MAN_DIR}/stamp
  DEPENDS cishare ${CISHARE_PKG_DIR}/help2man.sh
  COMMENT "Generating man pages from cishare --help")
add_custom_target(cishare_man ALL DEPENDS ${CISHARE_MAN_DIR}/stamp)

# pkg-config: relocatable (paths from ${pcfiledir}); cishare.pc.in says
# why the dependencies are public.
file(RELATIVE_PATH PC_TO_PREFIX /p/${CMAKE_INSTALL_LIBDIR}/pkgconfig /p)
string(REGEX REPLACE "/$" "" PC_TO_PREFIX "${PC_TO_PREFIX}")
string(REPLACE ";" " " PC_REQUIRES
  "rdkafka;avro-c;libsodium;jansson;yaml-0.1;libcrypto;libpsl;sqlite3;libmicrohttpd;gnutls")
configure_file(${CISHARE_PKG_DIR}/cishare.pc.in ${CMAKE_BINARY_DIR}/cishare.pc
               @ONLY)

install(TARGETS cishare RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS cishare_lib ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
file(GLOB CISHARE_PUBLIC_H ${CMAKE_SOURCE_DIR}/broker/include/cishare/*.h)
install(FILES ${CISHARE_PUBLIC_H} ${CMAKE_BINARY_DIR}/generated/cishare/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/cishare)
install(FILES ${CMAKE_BINARY_DIR}/cishare.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(GLOB CISHARE_SCHEMA_FILES ${CMAKE_SOURCE_DIR}/schemas/*.avsc)
install(FILES ${CISHARE_SCHEMA_FILES} ${CMAKE_SOURCE_DIR}/schemas/README.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cishare/schemas)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/schemas/history/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cishare/schemas/history
        FILES_MATCHING PATTERN "*.avsc")
install(DIRECTORY ${CISHARE_MAN_DIR}/ DESTINATION ${CMAKE_INSTALL_MANDIR}/man1
        FILES_MATCHING PATTERN "*.1.gz")
# The example participants (no TLS material: deploy/pki makes it per
# cluster), for `cishare demo` of an installed binary.
install(DIRECTORY ${CMAKE_SOURCE_DIR}/deploy/examples/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/cishare/examples
        PATTERN tls EXCLUDE)
install(FILES ${CISHARE_PKG_DIR}/participant.conf.example
              ${CISHARE_PKG_DIR}/participant.env.example
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)

# /etc/cishare and the systemd units depend on the prefix of the install
# itself (cmake --install --prefix, or /usr in the package), not of this
# configure: prefix /usr puts them in /etc and /lib/systemd/system (as
# GNUInstallDirs does for sysconfdir), any other under the prefix. The
# units name the installed binary and config folder.
install(CODE "
  set(_src \"${CISHARE_PKG_DIR}\")
  set(_sys \"${CMAKE_SOURCE_DIR}/deploy/systemd\")
  if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
    set(SYSCONFDIR /etc)
    set(_units /lib/systemd/system)
  else()
    set(SYSCONFDIR \"\${CMAKE_INSTALL_PREFIX}/etc\")
    set(_units \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  endif()
  set(BINDIR \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\")
  file(INSTALL DESTINATION \"\${SYSCONFDIR}/cishare\" TYPE FILE
       RENAME README FILES \"\${_src}/etc-README\")
  foreach(_u feed relay serve)
    configure_file(\"\${_sys}/cishare-\${_u}@.service\"
                   \"${CMAKE_BINARY_DIR}/systemd/cishare-\${_u}@.service\" @ONLY)
    file(INSTALL DESTINATION \"\${_units}\" TYPE FILE
         FILES \"${CMAKE_BINARY_DIR}/systemd/cishare-\${_u}@.service\")
  endforeach()
")

# Debian package (cpack -G DEB in the build folder): installs to /usr,
# dependencies from dpkg-shlibdeps (Debian's library packages).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cishare)
set(CPACK_PACKAGE_VENDOR cishare)
set(CPACK_PACKAGE_CONTACT "cishare maintainers <cishare@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "TLP-enforcing threat-information sharing over Apache Kafka")
# /etc and /lib/systemd/system are outside the prefix: install into a
# staging root (DESTDIR) with the real prefix, so the rules above see /usr.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CISHARE_PKG_DIR}/postinst ${CISHARE_PKG_DIR}/prerm
  ${CISHARE_PKG_DIR}/postrm ${CISHARE_PKG_DIR}/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
