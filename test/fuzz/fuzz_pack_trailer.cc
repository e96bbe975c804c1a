// libFuzzer: the pack header and trailer. Input: byte 0 = bit 0 encrypted,
// bit 1 payload mode, bit 2 format 3 (version-2 packs, 96-byte headers with
// a sealed key; encrypted under the metadata key). Raw mode: the rest is a
// whole pack file (header, blobs, trailer, footer) given to CheckPackHeader
// and DecodeTrailer. Payload mode: the rest is a trailer payload (count |
// entries), sealed and framed by the harness so the fuzzer reaches
// DecodeEntries past the MAC. Every entry a successful decode returns must
// lie inside the pack, after the header of the repository's pack version,
// and be within the documented bounds; a header accepted is of that version
// and whole.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "fuzz_support.h"
#include "envelope.h"
#include "pack_format.h"

using namespace snapkeep;
using engine::PackEntry;

static void CheckEntries(const engine::RepoKeys& keys, const std::vector<PackEntry>& out, uint64_t blobsEnd) {
  for (const PackEntry& e : out) {
    FUZZ_CHECK(e.offset >= engine::PackHeaderSizeOf(keys));
    FUZZ_CHECK(uint64_t(e.offset) + e.storedLen <= blobsEnd);
    FUZZ_CHECK(e.rawLen >= 1 && e.rawLen <= engine::kMaxChunkSize);
    FUZZ_CHECK(e.storedLen >= 1 && e.storedLen <= engine::MaxStoredLen(e.rawLen));
    FUZZ_CHECK((e.flags & ~engine::kFlagCompressed) == 0);
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  engine::RepoKeys keys = fuzz::Keys(data[0] & 1, false, data[0] & 4);
  const uint8_t* p = data + 1;
  size_t n = size - 1;
  std::vector<PackEntry> out;
  size_t need = 0;
  if (!(data[0] & 2)) {
    engine::PackHeaderInfo header;
    if (engine::CheckPackHeader(keys.layout, p, n, &header)) {
      FUZZ_CHECK(header.version == engine::PackVersionOf(keys.layout));
      FUZZ_CHECK(n >= engine::PackHeaderSize(header.version));
    }
    if (engine::DecodeTrailer(keys, p, n, n, out, &need)) {
      uint32_t tlen = engine::GetU32(p + n - engine::kPackFooterSize);
      CheckEntries(keys, out, n - engine::kPackFooterSize - tlen);
    } else {
      FUZZ_CHECK(need == 0 || need <= uint64_t(engine::kMaxTrailerSize) + engine::kPackFooterSize);
    }
    return 0;
  }
  // Payload mode: a pack of 1 MiB of blobs, then this trailer.
  engine::Bytes sealed = engine::SealEnvelope(keys, engine::EnvelopeType::kPackTrailer, p, n);
  engine::PutU32(sealed, static_cast<uint32_t>(sealed.size()));
  sealed.insert(sealed.end(), engine::kFooterMagic, engine::kFooterMagic + 4);
  const uint64_t blobsEnd = 1 << 20;
  if (engine::DecodeTrailer(keys, sealed.data(), sealed.size(), blobsEnd + sealed.size(), out, &need)) {
    CheckEntries(keys, out, blobsEnd);
    // What decodes re-encodes to the same payload.
    engine::Bytes again = engine::EncodeEntries(out);
    FUZZ_CHECK(again.size() == n && std::equal(again.begin(), again.end(), p));
  }
  return 0;
}
