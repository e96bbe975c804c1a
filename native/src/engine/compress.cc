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

bool Compressor::Compress(const uint8_t* data, size_t len, Bytes& out) {
  out.resize(ZSTD_compressBound(len));
  size_t n = ZSTD_compress2(ctx_.get(), out.data(), out.size(), data, len);
  if (ZSTD_isError(n) || n >= len) return false;
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
