// noise-vectors FILE.json...
// Runs the standard Noise test vectors ({"vectors": [...]}, the cacophony/snow format) against the
// handshake core: both roles, every handshake and transport message, and the handshake hash when the
// vector has one (the field is optional). Vectors whose protocol the core does not implement are
// counted as skipped and named. Ends with the line "N passed, M failed" and exits 1 if anything
// failed or nothing ran.

#include <sodium.h>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/hex.hpp"
#include "tunnel/noise/handshake_state.hpp"

namespace {

using mailtun::keys::KeySpan;
using mailtun::keys::PresharedKey;
using mailtun::keys::PrivateKey;
using mailtun::keys::PublicKey;
using mailtun::tunnel::Bytes;
using namespace mailtun::tunnel::noise;
using ByteVector = std::vector<std::uint8_t>;
using mailtun::testing::hex;
using mailtun::testing::unhex;

struct VectorFailure {
  std::string what;
};

KeySpan key_span(const ByteVector& bytes) {
  if (bytes.size() != 32) throw VectorFailure{"key is not 32 bytes"};
  return KeySpan(bytes.data(), 32);
}

std::optional<PrivateKey> private_key(const nlohmann::json& v, const char* field) {
  if (!v.contains(field)) return std::nullopt;
  return PrivateKey::from_bytes(key_span(unhex(v[field])));
}

std::optional<PublicKey> public_key(const nlohmann::json& v, const char* field) {
  if (!v.contains(field)) return std::nullopt;
  return PublicKey(key_span(unhex(v[field])));
}

void expect_equal(Bytes got, Bytes want, const std::string& what) {
  if (!std::ranges::equal(got, want)) throw VectorFailure{what + ": got " + hex(got) + ", want " + hex(want)};
}

template <typename T>
T ok(mailtun::tunnel::Result<T> result, const std::string& what) {
  if (!result) throw VectorFailure{what + ": " + result.error().message()};
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

/// Keys and PSK of one side, kept alive while its HandshakeState borrows them.
struct Side {
  std::optional<PrivateKey> s;
  std::optional<PresharedKey> psk;
  ByteVector prologue;
};

HandshakeState make_state(const Protocol& protocol, const nlohmann::json& v, bool initiator, Side& side) {
  const std::string p = initiator ? "init_" : "resp_";
  side.s = private_key(v, (p + "static").c_str());
  side.prologue = unhex(v.value(p + "prologue", ""));
  const auto psks = v.value(p + "psks", nlohmann::json::array());
  if (!psks.empty()) side.psk = PresharedKey::from_bytes(key_span(unhex(psks[0])));
  HandshakeParams params{
      .protocol = protocol,
      .initiator = initiator,
      .prologue = side.prologue,
      .s = side.s ? &*side.s : nullptr,
      .rs = public_key(v, (p + "remote_static").c_str()),
      .psk = side.psk ? &*side.psk : nullptr,
      .e = private_key(v, (p + "ephemeral").c_str()),
  };
  return HandshakeState(std::move(params));
}

void run_vector(const Protocol& protocol, const nlohmann::json& v) {
  Side init_side, resp_side;
  HandshakeState initiator = make_state(protocol, v, true, init_side);
  HandshakeState responder = make_state(protocol, v, false, resp_side);

  const auto& messages = v.at("messages");
  const std::size_t handshake_messages = protocol.pattern->messages.size();
  std::optional<std::pair<CipherState, CipherState>> init_ciphers, resp_ciphers;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const ByteVector payload = unhex(messages[i].at("payload"));
    const ByteVector ciphertext = unhex(messages[i].at("ciphertext"));
    const bool from_initiator = i % 2 == 0;
    const std::string label = "message " + std::to_string(i);
    if (i < handshake_messages) {
      HandshakeState& writer = from_initiator ? initiator : responder;
      HandshakeState& reader = from_initiator ? responder : initiator;
      expect_equal(ok(writer.write_message(payload), label + " write"), ciphertext, label + " ciphertext");
      expect_equal(ok(reader.read_message(ciphertext), label + " read"), payload, label + " payload");
      if (i + 1 == handshake_messages) {
        // Optional in the standard format: without it the messages above and the transport
        // messages below are still checked byte for byte.
        if (v.contains("handshake_hash")) {
          const ByteVector want_hash = unhex(v["handshake_hash"]);
          expect_equal(initiator.handshake_hash().bytes(), want_hash, "initiator handshake hash");
          expect_equal(responder.handshake_hash().bytes(), want_hash, "responder handshake hash");
        }
        init_ciphers = initiator.split();
        resp_ciphers = responder.split();
      }
      continue;
    }
    if (!init_ciphers) throw VectorFailure{"transport message before the handshake completed"};
    // Initiator sends with the first CipherState, the responder with the second.
    CipherState& sender = from_initiator ? init_ciphers->first : resp_ciphers->second;
    CipherState& receiver = from_initiator ? resp_ciphers->first : init_ciphers->second;
    ByteVector sealed(payload.size() + 16);
    ok(sender.encrypt_with_ad({}, payload, sealed), label + " encrypt");
    expect_equal(sealed, ciphertext, label + " ciphertext");
    ByteVector opened(payload.size());
    ok(receiver.decrypt_with_ad({}, ciphertext, opened), label + " decrypt");
    expect_equal(opened, payload, label + " payload");
  }
  if (!init_ciphers) throw VectorFailure{"the vector ends before the handshake completes"};
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::cerr << "noise-vectors: libsodium failed to initialise\n";
    return 1;
  }
  if (argc < 2) {
    std::cerr << "usage: noise-vectors FILE.json...\n";
    return 2;
  }
  int passed = 0, failed = 0, skipped = 0;
  for (int a = 1; a < argc; ++a) {
    const std::string path = argv[a];
    nlohmann::json doc;
    try {
      std::ifstream in(path);
      if (!in) throw std::runtime_error("cannot open");
      doc = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
      std::cout << "FAIL " << path << ": " << e.what() << "\n";
      ++failed;
      continue;
    }
    for (const auto& v : doc.at("vectors")) {
      const std::string name = v.value("protocol_name", "(unnamed)");
      const auto protocol = parse_protocol_name(name);
      const std::size_t psk_count = v.value("init_psks", nlohmann::json::array()).size();
      if (!protocol || psk_count != (protocol->pattern->psk_mode() ? 1U : 0U)) {
        std::cout << "skip " << name << " (protocol not implemented)\n";
        ++skipped;
        continue;
      }
      try {
        run_vector(*protocol, v);
        std::cout << "pass " << name << "\n";
        ++passed;
      } catch (const VectorFailure& f) {
        std::cout << "FAIL " << name << ": " << f.what << "\n";
        ++failed;
      } catch (const std::exception& e) {
        std::cout << "FAIL " << name << ": " << e.what() << "\n";
        ++failed;
      }
    }
  }
  if (skipped > 0) std::cout << skipped << " vectors skipped: their protocols are not implemented\n";
  std::cout << passed << " passed, " << failed << " failed\n";
  return (failed > 0 || passed == 0) ? 1 : 0;
}
