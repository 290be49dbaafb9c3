#pragma once
// What keeps the keys in this process's memory from other eyes (docs/security.md, "Keys in
// memory"). The static key and PSK sit in libsodium's guarded pages; the transport keys sit in
// OpenSSL's cipher contexts on the ordinary heap, so the process as a whole must not be dumped.

namespace mailtun::cli {

/// Makes the process non-dumpable: no core file, and no ptrace or /proc/<pid>/mem for other
/// processes of the same user, only for root with CAP_SYS_PTRACE. Throws std::runtime_error if
/// the kernel refuses.
void keep_memory_private();

}  // namespace mailtun::cli
