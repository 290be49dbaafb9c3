#include "forwarder/proxy_sources.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <string>
#include <system_error>
#include <utility>

namespace mailtun::forwarder {

namespace {

constexpr std::array<std::uint8_t, 12> mapped_v4_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/// ::ffff:a.b.c.d/N (N >= 96) as a.b.c.d/(N - 96); anything else unchanged.
AddressPrefix unmapped(AddressPrefix prefix) {
  if (prefix.family != 6 || prefix.length < 96 ||
      !std::equal(mapped_v4_prefix.begin(), mapped_v4_prefix.end(), prefix.bytes.begin())) {
    return prefix;
  }
  AddressPrefix v4{.family = 4, .bytes = {}, .length = prefix.length - 96};
  std::copy_n(prefix.bytes.begin() + 12, 4, v4.bytes.begin());
  return v4;
}

unsigned full_length(std::uint8_t family) { return family == 4 ? 32 : 128; }

/// True if the first `length` bits of `a` and `b` are equal.
bool same_leading_bits(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                       unsigned length) {
  const unsigned whole = length / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  const unsigned rest = length % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool holds(const AddressPrefix& outer, const AddressPrefix& inner) {
  return outer.family == inner.family && outer.length <= inner.length &&
         same_leading_bits(outer.bytes, inner.bytes, outer.length);
}

AddressPrefix prefix(std::string_view text) { return *parse_address_prefix(text); }

/// Loopback, unspecified and link-local: the addresses a target is most likely to trust, or that
/// no real client can have.
const std::array<AddressPrefix, 6>& special_ranges() {
  static const std::array<AddressPrefix, 6> ranges{prefix("127.0.0.0/8"), prefix("0.0.0.0/8"),
                                                   prefix("169.254.0.0/16"), prefix("::1/128"),
                                                   prefix("::/128"), prefix("fe80::/10")};
  return ranges;
}

}  // namespace

tl::expected<AddressPrefix, std::string> parse_address_prefix(std::string_view text) {
  const std::string_view expected =
      "; expected an address prefix such as \"192.0.2.0/24\", \"2001:db8::/32\" or \"127.0.0.1\"";
  const auto slash = text.find('/');
  const std::string address(text.substr(0, slash));
  AddressPrefix result;
  if (::inet_pton(AF_INET, address.c_str(), result.bytes.data()) == 1) {
    result.family = 4;
  } else if (::inet_pton(AF_INET6, address.c_str(), result.bytes.data()) == 1) {
    result.family = 6;
  } else {
    return tl::make_unexpected("is not an address prefix" + std::string(expected));
  }
  result.length = full_length(result.family);
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned length = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() ||
        length > result.length) {
      return tl::make_unexpected("has a prefix length that is not 0 to " + std::to_string(result.length) +
                                 std::string(expected));
    }
    result.length = length;
  }
  AddressPrefix network = result;
  for (unsigned bit = result.length; bit < full_length(result.family); ++bit) {
    network.bytes[bit / 8] = static_cast<std::uint8_t>(network.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  if (network.bytes != result.bytes) {
    return tl::make_unexpected("has bits set past the prefix length; expected the first address of the "
                               "range (such as \"192.0.2.0/24\"), or a single address without a length");
  }
  return unmapped(result);
}

std::string address_text(const tunnel::Address& address) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const int family = address.family == 4 ? AF_INET : address.family == 6 ? AF_INET6 : AF_UNSPEC;
  if (family == AF_UNSPEC || ::inet_ntop(family, address.bytes.data(), text.data(), text.size()) == nullptr) {
    return "an address of unknown family";
  }
  return text.data();
}

std::vector<AddressPrefix> default_proxy_sources() { return {prefix("0.0.0.0/0"), prefix("::/0")}; }

ProxySources::ProxySources(std::vector<AddressPrefix> prefixes) : prefixes_(std::move(prefixes)) {}

bool ProxySources::allows(const tunnel::Address& source) const {
  if (source.family != 4 && source.family != 6) return false;
  const AddressPrefix address =
      unmapped({.family = source.family, .bytes = source.bytes, .length = full_length(source.family)});
  const auto special = std::ranges::find_if(special_ranges(), [&](const auto& range) { return holds(range, address); });
  return std::ranges::any_of(prefixes_, [&](const AddressPrefix& listed) {
    if (!holds(listed, address)) return false;
    return special == special_ranges().end() || holds(*special, listed);
  });
}

}  // namespace mailtun::forwarder
