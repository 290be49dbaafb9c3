#include "cli/private_memory.hpp"

#include <sys/prctl.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mailtun::cli {

void keep_memory_private() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    throw std::runtime_error("cannot make the process non-dumpable: " +
                             std::error_code(errno, std::generic_category()).message());
  }
}

}  // namespace mailtun::cli
