// Unit tests of what the listener says to a connection it refuses for the reflector's own
// limits, per listener role (no sockets: the bytes only).
#include "listener.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

#include "control_protocol.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"
#include "smtp_server_dialogue.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

const std::string why = "too many connections from 192.0.2.10 (16)";

}  // namespace

BOOST_AUTO_TEST_SUITE(listener)

BOOST_AUTO_TEST_CASE(smtp_refusal_is_one_421_line_with_the_banner_identity) {
  const auto line = refusal_farewell(ListenerRole::smtp, "reflector.test", why);
  BOOST_TEST(line == "421 4.7.0 reflector.test egress25-reflector " + why + ", closing\r\n");
  // The same identity HELLO advertises as banner_identity and every greeting carries.
  BOOST_TEST(line.find(std::string(SmtpServerDialogue::identity)) != std::string::npos);
  BOOST_TEST(line.find('\n') == line.size() - 1);  // one line
  BOOST_TEST(line.size() <= limits::max_smtp_line);
  // A real SMTP client reads it as a 421 reply, in place of the greeting.
  smtp::ReplyParser parser;
  parser.feed(line);
  const auto reply = parser.next();
  BOOST_TEST_REQUIRE((reply.status == smtp::ReplyParser::Status::reply));
  BOOST_TEST(reply.reply.code == 421);
}

BOOST_AUTO_TEST_CASE(control_refusal_is_a_busy_error_frame) {
  const auto bytes = refusal_farewell(ListenerRole::control, "reflector.test", why);
  control::FrameDecoder decoder(limits::max_response_frame);
  decoder.feed(bytes);
  const auto frame = decoder.next();
  BOOST_TEST_REQUIRE((frame.status == control::FrameDecoder::Status::frame));
  BOOST_TEST(decoder.buffered() == 0u);  // exactly one frame
  const auto decoded = control::decode_response(frame.payload);
  BOOST_TEST_REQUIRE(std::holds_alternative<control::Response>(decoded));
  const auto& response = std::get<control::Response>(decoded);
  BOOST_TEST_REQUIRE(std::holds_alternative<control::ErrorResponse>(response));
  const auto& e = std::get<control::ErrorResponse>(response);
  BOOST_TEST((e.code == control::ErrorCode::busy));
  BOOST_TEST(e.message.find(why) != std::string::npos, e.message);
  BOOST_TEST(e.message.find("own limits") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(implicit_tls_refusal_says_nothing) {
  // Plaintext on a port where the client expects a TLS ClientHello answer would be read
  // as a broken handshake.
  BOOST_TEST(refusal_farewell(ListenerRole::smtps, "reflector.test", why).empty());
}

BOOST_AUTO_TEST_SUITE_END()
