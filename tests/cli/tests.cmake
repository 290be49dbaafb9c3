# Included from tests/CMakeLists.txt (so CMAKE_CURRENT_SOURCE_DIR is tests/).

# The real binary against `wg` (DESIGN §3: same key formats, same public key). Exits 77 when `wg`
# is not installed, which CTest reports as skipped rather than passed.
add_test(NAME cli_wg_interop
         COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/cli/wg_interop.sh $<TARGET_FILE:mailtun> ${PROJECT_VERSION})
set_tests_properties(cli_wg_interop PROPERTIES SKIP_RETURN_CODE 77)
