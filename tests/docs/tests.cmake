# Included from tests/CMakeLists.txt (so CMAKE_CURRENT_SOURCE_DIR is tests/).
# The docs against reality: every ```toml example in README.md and docs/*.md passes `mailtun check`
# (keys generated for its placeholders; the convention is at the top of the script), every
# relative link in them resolves, and every Postfix and Dovecot line quoted in quickstart.md,
# postfix.md and dovecot.md is one that `mailtun init` prints; every test that docs/security.md names
# as the proof of a promise exists.

find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  # Counted as skipped, loudly, never as passed.
  add_test(NAME docs_examples COMMAND sh -c "echo 'SKIPPED: python3 not found (scripts/install-deps.sh installs it)'; exit 77")
  add_test(NAME docs_init_lines COMMAND sh -c "echo 'SKIPPED: python3 not found (scripts/install-deps.sh installs it)'; exit 77")
  add_test(NAME docs_test_names COMMAND sh -c "echo 'SKIPPED: python3 not found (scripts/install-deps.sh installs it)'; exit 77")
  set_tests_properties(docs_examples docs_init_lines docs_test_names PROPERTIES SKIP_RETURN_CODE 77 LABELS docs)
  return()
endif()

add_test(NAME docs_examples
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_examples.py $<TARGET_FILE:mailtun>)
add_test(NAME docs_links COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_links.py)
add_test(NAME docs_init_lines
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_init_lines.py $<TARGET_FILE:mailtun>)
set_tests_properties(docs_examples docs_links docs_init_lines PROPERTIES
                     ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1" TIMEOUT 60 LABELS docs)
# The log lines docs/operations.md explains are the sources' own, and every warning and error has its row.
add_test(NAME docs_log_lines COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_log_lines.py)
set_tests_properties(docs_log_lines PROPERTIES ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1" TIMEOUT 60 LABELS docs)
# Every test docs/security.md names as the proof of a promise exists in tests/.
add_test(NAME docs_test_names COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/docs/check_test_names.py)
set_tests_properties(docs_test_names PROPERTIES ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1" TIMEOUT 60 LABELS docs)
