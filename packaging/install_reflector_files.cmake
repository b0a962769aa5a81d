# Install-time half of packaging/CMakeLists.txt: the reflector's systemd unit, written with
# the paths of the prefix this install runs with, and its sample config. GNUInstallDirs'
# rules: the prefix /usr keeps its config in /etc; any other prefix in PREFIX/etc.
set(prefix "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/+$" "" prefix "${prefix}")

function(egress25_path out setting default_for_usr)
  if(IS_ABSOLUTE "${setting}")
    set(${out} "${setting}" PARENT_SCOPE)
  elseif(prefix STREQUAL "/usr" AND NOT default_for_usr STREQUAL "")
    set(${out} "${default_for_usr}" PARENT_SCOPE)
  else()
    set(${out} "${prefix}/${setting}" PARENT_SCOPE)
  endif()
endfunction()

egress25_path(EGRESS25_SBINDIR "${EGRESS25_SBINDIR}" "")
egress25_path(EGRESS25_SYSCONFDIR "${EGRESS25_SYSCONFDIR_SETTING}" "/etc")
egress25_path(EGRESS25_DOCDIR "${EGRESS25_DATADIR}/doc/egress25-reflector" "")
if(EGRESS25_UNIT_DIR_SETTING)
  egress25_path(unit_dir "${EGRESS25_UNIT_DIR_SETTING}" "")
else()
  # Debian 12 keeps packaged units in /lib (not yet /usr/lib); systemd reads
  # /usr/local/lib/systemd/system too.
  egress25_path(unit_dir "lib/systemd/system" "/lib/systemd/system")
endif()

configure_file("${EGRESS25_UNIT_TEMPLATE}" "${EGRESS25_UNIT_OUTPUT}" @ONLY)
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${EGRESS25_UNIT_OUTPUT}")
# An operator's edited config is never overwritten by a later install.
set(config "$ENV{DESTDIR}${EGRESS25_SYSCONFDIR}/egress25/reflector.conf")
if(EXISTS "${config}")
  message(STATUS "Keeping the existing ${config}")
else()
  file(INSTALL DESTINATION "${EGRESS25_SYSCONFDIR}/egress25" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES "${EGRESS25_SAMPLE_CONFIG}")
endif()
