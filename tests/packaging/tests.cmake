# Included from tests/CMakeLists.txt (so CMAKE_CURRENT_SOURCE_DIR is tests/). The Debian package of
# packaging/: package_deb_lintian builds it from this build tree (cpack) and runs lintian; the others
# take that .deb: one installs and purges it in a minimal Debian 12 root, one checks its systemd unit;
# the last holds the manual page to the command line.
execute_process(COMMAND dpkg --print-architecture OUTPUT_VARIABLE deb_arch OUTPUT_STRIP_TRAILING_WHITESPACE
                ERROR_QUIET)
set(deb ${PROJECT_BINARY_DIR}/packages/mailtun_${PROJECT_VERSION}_${deb_arch}.deb)

add_test(NAME package_deb_lintian
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/deb_lintian.sh
                 ${PROJECT_BINARY_DIR} ${PROJECT_VERSION} ${PROJECT_SOURCE_DIR}/packaging/README.md)
set_tests_properties(package_deb_lintian PROPERTIES
                     FIXTURES_SETUP deb SKIP_RETURN_CODE 77 TIMEOUT 300 LABELS packaging)

# Needs root; the first run on a machine also runs debootstrap (a few minutes), later runs reuse it.
add_test(NAME package_minbase_install
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/minbase_install.sh ${deb})
set_tests_properties(package_minbase_install PROPERTIES
                     FIXTURES_REQUIRED deb SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS packaging)

add_test(NAME package_systemd_unit
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/systemd_unit.sh ${deb})
set_tests_properties(package_systemd_unit PROPERTIES
                     FIXTURES_REQUIRED deb SKIP_RETURN_CODE 77 TIMEOUT 60 LABELS packaging)

# mailtun(8) names every subcommand and option that the binary's --help lists.
add_test(NAME package_manpage_covers_cli
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/manpage_covers_cli.sh
                 $<TARGET_FILE:mailtun> ${PROJECT_SOURCE_DIR}/docs/mailtun.8.md)
set_tests_properties(package_manpage_covers_cli PROPERTIES TIMEOUT 30 LABELS packaging)

# The unit under a real systemd, booted in systemd-nspawn: both ends start in their sandbox and connect.
add_test(NAME package_systemd_boot
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/packaging/systemd_boot.sh ${deb})
set_tests_properties(package_systemd_boot PROPERTIES
                     FIXTURES_REQUIRED deb SKIP_RETURN_CODE 77 TIMEOUT 600 LABELS packaging)
