// libFuzzer: OpenEnvelope on arbitrary bytes, plain and encrypted, every
// type. Input: byte 0 = bit 0 encrypted, bits 1-3 envelope type (1..5),
// bit 4 the fast algorithm set;
// the rest is the file. Also seals the input as a payload and checks that
// it opens to the same bytes (and not as another type).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "envelope.h"
#include "fuzz_support.h"

using namespace snapkeep;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  engine::RepoKeys keys = fuzz::Keys(data[0] & 1, data[0] & 16);
  auto type = static_cast<engine::EnvelopeType>(1 + ((data[0] >> 1) & 7) % 5);
  engine::Bytes payload;
  engine::OpenEnvelope(keys, type, data + 1, size - 1, payload);

  engine::Bytes sealed = engine::SealEnvelope(keys, type, data + 1, size - 1);
  engine::Bytes back;
  FUZZ_CHECK(engine::OpenEnvelope(keys, type, sealed.data(), sealed.size(), back));
  FUZZ_CHECK(back.size() == size - 1 && std::equal(back.begin(), back.end(), data + 1));
  auto other = static_cast<engine::EnvelopeType>(1 + (static_cast<int>(type) % 5));
  FUZZ_CHECK(!engine::OpenEnvelope(keys, other, sealed.data(), sealed.size(), back));
  return 0;
}
