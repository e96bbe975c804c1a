// libFuzzer: index files. Input: byte 0 = bit 0 encrypted; the rest is an
// index payload ("SKIX" | version | pack count | packs), sealed by the
// harness so the fuzzer gets past the MAC. A successful decode must
// re-encode and decode to the same packs.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "envelope.h"
#include "fuzz_support.h"
#include "index_file.h"

using namespace snapkeep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  engine::RepoKeys keys = fuzz::Keys(data[0] & 1);
  engine::Bytes file = engine::SealEnvelope(keys, engine::EnvelopeType::kIndex, data + 1, size - 1);
  std::vector<engine::PackInfo> packs;
  if (!engine::DecodeIndex(keys, file, packs)) return 0;
  for (const engine::PackInfo& p : packs)
    for (const engine::PackEntry& e : p.entries) {
      FUZZ_CHECK(e.rawLen >= 1 && e.rawLen <= engine::kMaxChunkSize);
      FUZZ_CHECK(e.storedLen <= engine::MaxStoredLen(e.rawLen));
    }
  engine::Bytes again = engine::EncodeIndex(keys, packs);
  std::vector<engine::PackInfo> back;
  FUZZ_CHECK(engine::DecodeIndex(keys, again, back));
  FUZZ_CHECK(back.size() == packs.size());
  for (size_t i = 0; i < back.size(); i++) {
    FUZZ_CHECK(back[i].id == packs[i].id && back[i].size == packs[i].size);
    FUZZ_CHECK(back[i].entries == packs[i].entries);
  }
  return 0;
}
