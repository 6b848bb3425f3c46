# SPDX-License-Identifier: MIT
# What `cmake --install` puts on a server, and the Debian package `cpack -G DEB` makes of
# the same files. Configure with -DCMAKE_INSTALL_PREFIX=/usr for a server: GNUInstallDirs
# then puts the settings under /etc; the units go where systemd looks for them
# (pkg-config systemd, /lib/systemd/system on Debian 12).
#   /usr/bin/farmlokal, /usr/bin/farmlokal-ctl
#   <unit dir>/farmlokal@.socket, farmlokal@.service, farmlokal-master@.service,
#              farmlokal-migrate.service
#   /etc/farmlokal/farmlokal.env                    the settings (never overwritten)
#   /etc/nginx/snippets/farmlokal-location.conf     the location block to include, and the
#                  farmlokal-{fastcgi,edge,error}.conf snippets it and the site include
#   /etc/nginx/sites-available/farmlokal            a complete site with two pools
#   /etc/lighttpd/conf-available/50-farmlokal.conf  and 50-farmlokal-bin-path.conf
#   /usr/share/man/man8/farmlokal.8.gz, farmlokal-ctl.8.gz
#   /usr/share/doc/farmlokal/                       copyright, changelog, examples
include(GNUInstallDirs)

set(fl_unit_dir_default "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  pkg_get_variable(fl_systemd_unit_dir systemd systemdsystemunitdir)
  if(fl_systemd_unit_dir)
    set(fl_unit_dir_default "${fl_systemd_unit_dir}")
  else()
    set(fl_unit_dir_default "/lib/systemd/system")
  endif()
endif()
set(FL_SYSTEMD_UNIT_DIR "${fl_unit_dir_default}" CACHE PATH "Where the systemd units go")
set(fl_etc "${CMAKE_INSTALL_FULL_SYSCONFDIR}")
set(fl_doc "${CMAKE_INSTALL_DATADIR}/doc/farmlokal")
set(fl_deploy "${CMAKE_SOURCE_DIR}/deploy")

install(TARGETS farmlokal farmlokal-ctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(FILES ${fl_deploy}/systemd/farmlokal@.socket ${fl_deploy}/systemd/farmlokal@.service
              ${fl_deploy}/systemd/farmlokal-master@.service
              ${fl_deploy}/systemd/farmlokal-migrate.service
        DESTINATION ${FL_SYSTEMD_UNIT_DIR})

install(FILES ${fl_deploy}/nginx/farmlokal-location.conf ${fl_deploy}/nginx/farmlokal-fastcgi.conf
              ${fl_deploy}/nginx/farmlokal-edge.conf ${fl_deploy}/nginx/farmlokal-error.conf
        DESTINATION ${fl_etc}/nginx/snippets)
install(FILES ${fl_deploy}/nginx/farmlokal-site.conf DESTINATION ${fl_etc}/nginx/sites-available
        RENAME farmlokal)
install(FILES ${fl_deploy}/lighttpd/farmlokal.conf DESTINATION ${fl_etc}/lighttpd/conf-available
        RENAME 50-farmlokal.conf)
install(FILES ${fl_deploy}/lighttpd/farmlokal-bin-path.conf
        DESTINATION ${fl_etc}/lighttpd/conf-available RENAME 50-farmlokal-bin-path.conf)

# The settings: an admin's edited file is never replaced by a reinstall (dpkg keeps it as a
# conffile; for `cmake --install` the rule below skips an existing one). The example stays
# beside the documentation either way.
install(FILES ${fl_deploy}/farmlokal.env.example DESTINATION ${fl_doc}/examples)
install(CODE "
  set(env \"\$ENV{DESTDIR}${fl_etc}/farmlokal/farmlokal.env\")
  if(EXISTS \"\${env}\")
    message(STATUS \"Kept: \${env}\")
  else()
    # file(INSTALL) itself puts DESTDIR in front of the destination.
    file(INSTALL \"${fl_deploy}/farmlokal.env.example\" DESTINATION \"${fl_etc}/farmlokal\"
         RENAME farmlokal.env FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
  endif()")

# Manual pages, compressed as Debian wants them (-n: no name or time stamp in the output).
find_program(GZIP gzip REQUIRED)
set(fl_man_pages)
foreach(page farmlokal.8 farmlokal-ctl.8)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
                     COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
                     COMMAND ${GZIP} -9nc ${fl_deploy}/man/${page} > ${CMAKE_BINARY_DIR}/man/${page}.gz
                     DEPENDS ${fl_deploy}/man/${page} VERBATIM)
  list(APPEND fl_man_pages ${CMAKE_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/changelog.gz
                   COMMAND ${GZIP} -9nc ${fl_deploy}/deb/changelog > ${CMAKE_BINARY_DIR}/man/changelog.gz
                   DEPENDS ${fl_deploy}/deb/changelog ${CMAKE_BINARY_DIR}/man/farmlokal.8.gz VERBATIM)
add_custom_target(fl_docs ALL DEPENDS ${fl_man_pages} ${CMAKE_BINARY_DIR}/man/changelog.gz)
install(FILES ${fl_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${fl_deploy}/deb/copyright ${CMAKE_BINARY_DIR}/man/changelog.gz DESTINATION ${fl_doc})

# cpack -G DEB -> farmlokal_<version>_<arch>.deb; dependencies from dpkg-shlibdeps, plus
# multiwatch (farmlokal@.service runs it) and adduser (postinst).
set(CPACK_PACKAGE_NAME farmlokal)
set(CPACK_PACKAGE_VENDOR "FarmLokal")
set(CPACK_PACKAGE_CONTACT "FarmLokal team <maintainers@farmlokal.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "product API of the FarmLokal marketplace (FastCGI)")
set(CPACK_PACKAGE_DESCRIPTION "The product API of the FarmLokal marketplace: a FastCGI
application in C behind nginx or lighttpd, with MariaDB and Redis. This package
holds the worker program, the admin tool (migrations, seeding, configuration
check), systemd units for socket-activated or self-supervised pools, and nginx
and lighttpd configuration.")
# DESTDIR staging: the absolute /etc and unit paths land in the package, never on this machine.
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://farmlokal.example/")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, multiwatch")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx | lighttpd, mariadb-server, redis-server")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
configure_file(${fl_deploy}/deb/conffiles.in ${CMAKE_BINARY_DIR}/deb/conffiles @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/deb/conffiles ${fl_deploy}/deb/postinst ${fl_deploy}/deb/postrm)
include(CPack)
