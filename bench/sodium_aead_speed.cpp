// Single-core ChaCha20-Poly1305 (IETF) sealing speed of libsodium on 16 KiB buffers, the machine
// limit beside `openssl speed -evp chacha20-poly1305` in docs/benchmarks.md. Prints MB/s (10^6).
// Usage: sodium-aead-speed [seconds]
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  if (sodium_init() < 0) {
    std::fprintf(stderr, "sodium_init failed\n");
    return 1;
  }
  const double seconds = argc > 1 ? std::atof(argv[1]) : 1.0;
  constexpr std::size_t kBuffer = 16384;
  std::vector<unsigned char> message(kBuffer, 0x5a);
  std::vector<unsigned char> sealed(kBuffer);
  unsigned char tag[crypto_aead_chacha20poly1305_ietf_ABYTES];
  unsigned char key[crypto_aead_chacha20poly1305_ietf_KEYBYTES];
  unsigned char nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES] = {};
  crypto_aead_chacha20poly1305_ietf_keygen(key);

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto until = start + std::chrono::duration<double>(seconds);
  std::size_t sealed_bytes = 0;
  // Bounded: at most 10^9 buffers; the clock is read every 64.
  for (std::size_t i = 0; i < 1'000'000'000 && (i % 64 != 0 || Clock::now() < until); ++i) {
    nonce[0] = static_cast<unsigned char>(i);
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(sealed.data(), tag, nullptr, message.data(), kBuffer,
                                                       nullptr, 0, nullptr, nonce, key);
    sealed_bytes += kBuffer;
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%.1f\n", static_cast<double>(sealed_bytes) / elapsed / 1e6);
  return 0;
}
