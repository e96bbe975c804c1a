// libFuzzer: decoding one stored blob into the chunk buffer of a restore
// (PackReader::Decode: decrypt, decompress, length and id checks). Input:
// byte 0 = bit 0 encrypted, bit 1 compressed, bit 2 the fast algorithm
// set; u32 raw length; u32 length
// of the chunk's place (taken modulo 256 KiB + 1, so buffers stay small);
// then the stored bytes. The output buffer is exactly the chunk's length
// and heap-allocated, so a decoder writing past it is an ASan report (engine
// review finding 4).
#include <cstddef>
#include <cstdint>
#include <memory>

#include "compress.h"
#include "engine_error.h"
#include "fuzz_support.h"
#include "pack_reader.h"

using namespace snapkeep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 9) return 0;
  engine::RepoKeys keys = fuzz::Keys(data[0] & 1, data[0] & 4);
  engine::PackEntry e;
  e.flags = (data[0] & 2) ? engine::kFlagCompressed : 0;
  e.rawLen = engine::GetU32(data + 1);
  size_t expect = engine::GetU32(data + 5) % ((256u << 10) + 1);
  engine::Bytes stored(data + 9, data + size);
  e.storedLen = static_cast<uint32_t>(stored.size());
  // Ids are checked after decoding; an id made from the stored bytes lets
  // raw blobs of the right length through to the end.
  e.id = engine::KeyedHash(keys, stored.data(), stored.size());
  // Made once: a zstd context per input would cost most of the time.
  static engine::PackReader plain("/nonexistent", fuzz::Keys(false)), enc("/nonexistent", fuzz::Keys(true));
  static engine::Decompressor dz;
  static engine::Bytes scratch;
  engine::PackReader& reader = keys.encrypted ? enc : plain;
  std::unique_ptr<uint8_t[]> out(new uint8_t[expect ? expect : 1]);
  try {
    reader.Decode("00000000000000000000000000000000", e, stored, scratch, dz, out.get(), expect);
    FUZZ_CHECK(e.rawLen == expect);
  } catch (const engine::EngineError& err) {
    FUZZ_CHECK(err.code == "REPO_CORRUPT");
  }
  return 0;
}
