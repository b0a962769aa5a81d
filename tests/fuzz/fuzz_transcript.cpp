// libFuzzer harness: comparing the client's and the reflector's transcripts of one
// dialogue, with any bytes on either side (a middlebox may send anything). Equal views
// have no differences; every difference has a sentence, escaped: no raw control byte
// reaches a report; printable() and terminal_text() keep their caps.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "limits.hpp"
#include "transcript.hpp"

using namespace egress25;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool printable_only(const std::string& s) {
  for (unsigned char c : s)
    if (c < 0x20 || c >= 0x7f) return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Eight streams, cut at NUL bytes: client plain/tls both ways, then the reflector's.
  std::string streams[8];
  std::size_t at = 0;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && at < 7) {
      ++at;
      continue;
    }
    streams[at].push_back(static_cast<char>(data[i]));
  }
  Transcript client, reflector;
  CappedBytes* parts[8] = {&client.plain.to_server,    &client.plain.to_client,
                           &client.tls.to_server,      &client.tls.to_client,
                           &reflector.plain.to_server, &reflector.plain.to_client,
                           &reflector.tls.to_server,   &reflector.tls.to_client};
  for (int i = 0; i < 8; ++i) {
    parts[i]->cap = 256;  // small caps, so truncation is fuzzed too
    parts[i]->append(streams[i]);
    check(parts[i]->kept.size() <= parts[i]->cap);
  }
  for (const auto& d : compare_transcripts(client, reflector)) {
    check(!d.detail.empty());
    check(printable_only(d.detail));
  }
  check(compare_transcripts(client, client).empty());
  const auto p = printable(std::string_view(reinterpret_cast<const char*>(data), size), 80);
  check(p.size() <= 83 && printable_only(p));
  const auto t = terminal_text(std::string_view(reinterpret_cast<const char*>(data), size));
  check(printable_only(t));
  return 0;
}
