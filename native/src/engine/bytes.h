// Small byte helpers shared by the engine: chunk ids, little-endian codecs,
// hex. The on-disk formats (docs/repository-format.md) are little-endian.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace snapkeep::engine {

constexpr size_t kIdSize = 32;  // BLAKE2b-256
using ChunkId = std::array<uint8_t, kIdSize>;
using Bytes = std::vector<uint8_t>;

// The id of an all-zero chunk in a chunk list: such chunks are never stored.
inline bool IsZeroId(const ChunkId& id) {
  for (uint8_t b : id)
    if (b != 0) return false;
  return true;
}

struct ChunkIdHash {
  size_t operator()(const ChunkId& id) const {
    // Ids are keyed hashes, so any 8 bytes are uniformly distributed.
    uint64_t v;
    std::memcpy(&v, id.data(), sizeof v);
    return static_cast<size_t>(v);
  }
};

inline void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; i++) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline uint32_t GetU32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
inline uint64_t GetU64(const uint8_t* p) {
  return uint64_t(GetU32(p)) | uint64_t(GetU32(p + 4)) << 32;
}

inline std::string Hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; i++) {
    s[2 * i] = d[p[i] >> 4];
    s[2 * i + 1] = d[p[i] & 15];
  }
  return s;
}
inline std::string Hex(const ChunkId& id) { return Hex(id.data(), id.size()); }

// Parses exactly 2*n hex digits; false on anything else.
inline bool FromHex(const std::string& s, uint8_t* out, size_t n) {
  if (s.size() != 2 * n) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; i++) {
    int hi = val(s[2 * i]), lo = val(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace snapkeep::engine
