# cmake -DRUNNER=noise-vectors -DVECTOR=Noise_….json -DWORK_DIR=dir -P without_handshake_hash.cmake
# In the standard Noise vector format `handshake_hash` is optional. Writes VECTOR without it and
# expects the runner to pass it; then writes copies with one wrong ciphertext byte, in a handshake
# message and in the last transport message, and expects each to fail: without the hash, the
# messages themselves must still be checked.

file(MAKE_DIRECTORY ${WORK_DIR})
file(READ ${VECTOR} original)
string(JSON protocol GET "${original}" vectors 0 protocol_name)
string(JSON without_hash REMOVE "${original}" vectors 0 handshake_hash)

function(run_runner name json expect_pass)
  set(path ${WORK_DIR}/${name}.json)
  file(WRITE ${path} "${json}")
  execute_process(COMMAND ${RUNNER} ${path} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out
                  TIMEOUT 30)
  message(STATUS "${name}: exit ${rc}\n${out}")
  if(expect_pass AND NOT (rc EQUAL 0 AND out MATCHES "pass ${protocol}\n" AND out MATCHES "1 passed, 0 failed"))
    message(FATAL_ERROR "${name}: expected the vector to pass")
  endif()
  if(NOT expect_pass AND NOT (rc EQUAL 1 AND out MATCHES "FAIL ${protocol}" AND out MATCHES "0 passed, 1 failed"))
    message(FATAL_ERROR "${name}: expected the vector to fail")
  endif()
endfunction()

# Replaces the first hex digit of messages[index].ciphertext with another one.
function(corrupt_ciphertext out_var json index)
  string(JSON ciphertext GET "${json}" vectors 0 messages ${index} ciphertext)
  string(SUBSTRING "${ciphertext}" 0 1 first)
  string(SUBSTRING "${ciphertext}" 1 -1 rest)
  if(first STREQUAL "0")
    set(first "1")
  else()
    set(first "0")
  endif()
  string(JSON corrupted SET "${json}" vectors 0 messages ${index} ciphertext "\"${first}${rest}\"")
  set(${out_var} "${corrupted}" PARENT_SCOPE)
endfunction()

run_runner(without_hash "${without_hash}" TRUE)

corrupt_ciphertext(bad_handshake "${without_hash}" 1)
run_runner(without_hash_bad_handshake_message "${bad_handshake}" FALSE)

string(JSON message_count LENGTH "${without_hash}" vectors 0 messages)
math(EXPR last "${message_count} - 1")
corrupt_ciphertext(bad_transport "${without_hash}" ${last})
run_runner(without_hash_bad_last_transport "${bad_transport}" FALSE)
