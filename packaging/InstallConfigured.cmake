# Run by `cmake --install` (and cpack): writes the files that name installed
# paths, for the prefix known only now (--prefix, or cpack's /usr under its
# DESTDIR), straight to their place: two installs at once (the tests run
# them) never share a file in the build folder.
# Given: FCGIHOST_PACKAGING_DIR (this folder), FCGIHOST_BINDIR_REL,
# FCGIHOST_DOCDIR_REL, FCGIHOST_EXAMPLE_DIR_REL, FCGIHOST_PLUGINS_DIR_REL.
set(prefix "${CMAKE_INSTALL_PREFIX}")
# /usr's configuration lives in /etc; any other prefix's in PREFIX/etc.
if(prefix STREQUAL "/usr")
  set(FCGIHOST_SYSCONFDIR /etc)
else()
  set(FCGIHOST_SYSCONFDIR "${prefix}/etc")
endif()
set(FCGIHOST_BINDIR "${prefix}/${FCGIHOST_BINDIR_REL}")
set(FCGIHOST_DOCDIR "${prefix}/${FCGIHOST_DOCDIR_REL}")
set(FCGIHOST_EXAMPLE_PLUGINS_DIR "${prefix}/${FCGIHOST_PLUGINS_DIR_REL}")

function(fcgihost_install_configured template destination)
  set(target "$ENV{DESTDIR}${destination}")
  message(STATUS "Installing: ${target}")
  configure_file("${FCGIHOST_PACKAGING_DIR}/${template}" "${target}" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${target}")
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()

fcgihost_install_configured(fcgi-host.toml.in "${prefix}/${FCGIHOST_EXAMPLE_DIR_REL}/fcgi-host.toml")
# The config the systemd units run with: never over one the administrator has.
if(EXISTS "$ENV{DESTDIR}${FCGIHOST_SYSCONFDIR}/fcgi-host/fcgi-host.toml")
  message(STATUS "Kept: $ENV{DESTDIR}${FCGIHOST_SYSCONFDIR}/fcgi-host/fcgi-host.toml")
else()
  fcgihost_install_configured(fcgi-host.toml.in "${FCGIHOST_SYSCONFDIR}/fcgi-host/fcgi-host.toml")
endif()
foreach(unit fcgi-host.service fcgi-host.socket fcgi-host@.service fcgi-host@.socket)
  fcgihost_install_configured(systemd/${unit}.in "${prefix}/lib/systemd/system/${unit}")
endforeach()
