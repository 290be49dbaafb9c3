#include "cli/descriptor_limit.hpp"

#include <sys/resource.h>

namespace mailtun::cli {

std::optional<DescriptorLimit> raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  const DescriptorLimit result{.before = limit.rlim_cur, .now = limit.rlim_max};
  if (limit.rlim_cur == limit.rlim_max) return result;
  limit.rlim_cur = limit.rlim_max;
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  return result;
}

}  // namespace mailtun::cli
