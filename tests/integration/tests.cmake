# Integration tests (DESIGN §10): real `mailtun up` processes on loopback, driven by Python 3
# (standard library only). Included from tests/CMakeLists.txt, so CMAKE_CURRENT_SOURCE_DIR is tests/.
# One CTest test per file; to run one by hand:
#   cd tests/integration && MAILTUN=../../build/cli/mailtun python3 -m unittest -v test_bulk

find_package(Python3 COMPONENTS Interpreter)
if(NOT Python3_Interpreter_FOUND)
  # Counted as skipped, loudly, never as passed.
  message(WARNING "python3 not found: the integration tests will be skipped")
  add_test(NAME integration COMMAND sh -c "echo 'SKIPPED: python3 not found (scripts/install-deps.sh installs it)'; exit 77")
  set_tests_properties(integration PROPERTIES SKIP_RETURN_CODE 77 LABELS integration)
  return()
endif()

# integration_NAME runs tests/integration/test_NAME.py; TIMEOUT is a bound, each takes seconds.
# Further arguments are more VAR=VALUE for its environment. A test that skips says "SKIPPED:" and
# is counted as skipped, never as passed.
function(mailtun_integration_test name timeout)
  add_test(NAME integration_${name}
           COMMAND ${Python3_EXECUTABLE} -m unittest -v test_${name}
           WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/integration)
  list(JOIN ARGN ";" extra_environment)
  set_tests_properties(integration_${name} PROPERTIES
                       ENVIRONMENT "MAILTUN=$<TARGET_FILE:mailtun>;PYTHONDONTWRITEBYTECODE=1;PYTHONUNBUFFERED=1;${extra_environment}"
                       SKIP_REGULAR_EXPRESSION "SKIPPED:"
                       TIMEOUT ${timeout}
                       LABELS integration)
endfunction()

mailtun_integration_test(bulk 90)                 # 64 MiB each way at once, one stream
mailtun_integration_test(many_streams 60)         # 200 concurrent streams
mailtun_integration_test(half_close 60)           # FIN in each direction
mailtun_integration_test(slow_reader 60)          # a stalled stream does not slow another
mailtun_integration_test(peer_death 60)           # kill -9 of the peer resets local clients
mailtun_integration_test(proxy_sources 60)       # a peer cannot claim loopback in a PROXY header
mailtun_integration_test(reconnect 90)            # the dialer reconnects after the listener restarts
mailtun_integration_test(hostile_handshakes 60)   # garbage, unknown key, replay: zero bytes back
mailtun_integration_test(refused_service 60)      # refused streams answered in the client's protocol
mailtun_integration_test(peer_down_reply 60)      # 421 4.4.1 at once when the peer is down
mailtun_integration_test(dial_both_ways 60)       # both sides dial: one connection survives
mailtun_integration_test(shutdown 60)             # SIGTERM: exit 0, drain, reset at the deadline
mailtun_integration_test(failover 60)           # a forward to peers = ["vps1", "vps2"]: the first live one, in order
mailtun_integration_test(session_refresh 90)    # max_session_age: make-before-break, nothing fails during the switch
mailtun_integration_test(reload 60)               # SIGHUP: changes apply, untouched streams flow, bad files refused
mailtun_integration_test(status 60)               # mailtun status and /metrics against a running pair: the counters move
mailtun_integration_test(systemd_notify 60)       # the unit's ExecStart under a fake NOTIFY_SOCKET: READY, STATUS, WATCHDOG
mailtun_integration_test(init_pair 60)            # init for both roles: the generated pair carries LMTP
mailtun_integration_test(peers_dir 60)            # peers_dir: an office file added or removed takes effect on reload

# One VPS endpoint, 50 offices (bench/offices.cpp runs them in one process): all up, mail through
# their forwards, all back after the VPS restarts. Seconds long; the 1000-office figures are a
# benchmark (bench/offices.py), never part of CI.
mailtun_integration_test(offices 90 "MAILTUN_OFFICES=$<TARGET_FILE:mailtun-offices>")
