#include "compress.h"

#include <new>

namespace snapkeep::engine {

Compressor::Compressor(int level) : ctx_(ZSTD_createCCtx()), level_(level) {
  if (!ctx_) throw std::bad_alloc();
  ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level_);
  // The chunk id already protects the content; zstd's own checksum would
  // only cost time.
  ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_checksumFlag, 0);
}

namespace {
// Media, encrypted volumes and archives do not compress, and trying costs
// zstd's time on every chunk of them. After kPoorRun chunks in a row that
// saved less than 1/32, the next kSkip chunks are stored raw untried; the
// one after is a probe, so data that compresses again is found within
// kSkip + 1 chunks of it starting.
constexpr unsigned kPoorRun = 4;
constexpr unsigned kSkip = 16;
}  // namespace

bool Compressor::Compress(const uint8_t* data, size_t len, Bytes& out) {
  if (skipLeft_ > 0) {
    skipLeft_--;
    return false;
  }
  out.resize(ZSTD_compressBound(len));
  size_t n = ZSTD_compress2(ctx_.get(), out.data(), out.size(), data, len);
  if (ZSTD_isError(n) || n >= len - len / 32) {
    if (++poorInARow_ >= kPoorRun) {
      skipLeft_ = kSkip;
      poorInARow_ = 0;
    }
    return false;
  }
  poorInARow_ = 0;
  out.resize(n);
  return true;
}

Decompressor::Decompressor() : ctx_(ZSTD_createDCtx()) {
  if (!ctx_) throw std::bad_alloc();
}

bool Decompressor::Decompress(const uint8_t* data, size_t len, size_t rawLen, uint8_t* out) {
  size_t n = ZSTD_decompressDCtx(ctx_.get(), out, rawLen, data, len);
  return !ZSTD_isError(n) && n == rawLen;
}

}  // namespace snapkeep::engine
