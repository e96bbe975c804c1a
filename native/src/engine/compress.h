// zstd compression with one context per thread (contexts are not
// thread-safe and costly to create, so each pipeline worker owns one).
#pragma once

#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "bytes.h"

namespace snapkeep::engine {

class Compressor {
 public:
  explicit Compressor(int level);
  // Compresses into `out` (resized); false when the chunk is to be stored
  // raw: compressing saved less than 1/32 of it (restore then skips the
  // decompression too), or recent chunks did not compress and this one is
  // not a probe (see compress.cc).
  bool Compress(const uint8_t* data, size_t len, Bytes& out);

 private:
  struct Free {
    void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
  };
  std::unique_ptr<ZSTD_CCtx, Free> ctx_;
  int level_;
  unsigned poorInARow_ = 0;
  unsigned skipLeft_ = 0;
};

class Decompressor {
 public:
  Decompressor();
  // Exactly `rawLen` bytes into `out`; false on damaged input.
  bool Decompress(const uint8_t* data, size_t len, size_t rawLen, uint8_t* out);

 private:
  struct Free {
    void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
  };
  std::unique_ptr<ZSTD_DCtx, Free> ctx_;
};

}  // namespace snapkeep::engine
