// libFuzzer harness: the control protocol's frame decoder and message decoders, fed what
// a hostile peer may send (iperf3's CVEs came from exactly this read). A frame is
// accepted or refused in one sentence; a decoded message re-encodes to one that decodes
// the same way.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "control_protocol.hpp"
#include "fuzz_input.hpp"
#include "limits.hpp"

using namespace egress25;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void decode_both_ways(std::string_view payload) {
  auto request = control::decode_request(payload);
  if (auto* r = std::get_if<control::Request>(&request)) {
    // What the reflector accepted, the client can send again, unchanged.
    auto again = control::decode_request(control::encode(*r));
    check(std::holds_alternative<control::Request>(again));
    check(control::encode(std::get<control::Request>(again)) == control::encode(*r));
  } else {
    check(!std::get<control::ErrorResponse>(request).message.empty());
  }
  auto response = control::decode_response(payload);
  if (auto* r = std::get_if<control::Response>(&response)) {
    auto again = control::decode_response(control::encode(*r));
    check(std::holds_alternative<control::Response>(again));
  } else {
    check(!std::get<control::ErrorResponse>(response).message.empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Chunks chunks(data, size);
  decode_both_ways(chunks.all());
  // The same bytes as a stream of frames, arriving in pieces.
  control::FrameDecoder decoder(limits::max_request_frame);
  while (!chunks.done()) {
    decoder.feed(chunks.next());
    for (;;) {
      auto frame = decoder.next();
      if (frame.status == control::FrameDecoder::Status::need_more) break;
      if (frame.status == control::FrameDecoder::Status::error) {
        check(!frame.error.empty());
        return 0;  // a refused frame ends the connection
      }
      check(frame.payload.size() <= limits::max_request_frame);
      decode_both_ways(frame.payload);
    }
    // Nothing past the cap is ever buffered waiting for more.
    check(decoder.buffered() <= limits::max_request_frame + 4);
  }
  return 0;
}
