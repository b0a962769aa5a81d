// Unit tests for the client's command line: HOST[:PORT] forms, port lists, validation.
#include <boost/test/unit_test.hpp>
#include <vector>

#include "options.hpp"

using namespace egress25::client;

namespace {

CommandLine parse(std::vector<const char*> args) {
  args.insert(args.begin(), "egress25");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

std::string usage_error(std::vector<const char*> args) {
  auto result = parse(std::move(args));
  auto* error = std::get_if<UsageError>(&result);
  return error ? error->message : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(client_options)

BOOST_AUTO_TEST_CASE(host_port_forms) {
  std::string error;
  struct Row {
    const char* text;
    const char* host;
    std::uint16_t port;
  };
  for (const Row& r : std::vector<Row>{{"reflector.example", "reflector.example", 7025},
                                       {"reflector.example:17025", "reflector.example", 17025},
                                       {"192.0.2.1", "192.0.2.1", 7025},
                                       {"192.0.2.1:1", "192.0.2.1", 1},
                                       {"[2001:db8::1]:8025", "2001:db8::1", 8025},
                                       {"[::1]", "::1", 7025},
                                       {"2001:db8::1", "2001:db8::1", 7025}}) {
    auto hp = parse_host_port(r.text, 7025, error);
    BOOST_TEST_REQUIRE(hp.has_value(), r.text << ": " << error);
    BOOST_TEST(hp->host == r.host);
    BOOST_TEST(hp->port == r.port);
  }
  for (const char* bad : {"", ":25", "host:", "host:0", "host:65536", "host:x", "[::1", "[::1]x",
                          "[nothost]:25", "2001:db8::zz"}) {
    BOOST_TEST(!parse_host_port(bad, 7025, error).has_value(), bad);
    BOOST_TEST(!error.empty());
  }
}

// The mistakes issue 12 met: a URL, and a bare IPv6 address whose last group reads as a
// port. Each message says what to write instead.
BOOST_AUTO_TEST_CASE(host_port_mistakes_explained) {
  std::string error;
  BOOST_TEST(!parse_host_port("http://vps.example.net", 7025, error).has_value());
  BOOST_TEST(error.find("is a URL") != std::string::npos, error);
  BOOST_TEST(error.find("--reflector vps.example.net") != std::string::npos, error);
  BOOST_TEST(!parse_host_port("https://user@vps.example.net:8443/path", 7025, error).has_value());
  BOOST_TEST(error.find("--reflector vps.example.net:8443") != std::string::npos, error);

  BOOST_TEST(!parse_host_port("2001:db8::5:7025", 7025, error).has_value());
  BOOST_TEST(error.find("ambiguous") != std::string::npos, error);
  BOOST_TEST(error.find("[2001:db8::5]:7025") != std::string::npos, error);
  BOOST_TEST(error.find("[2001:db8::5:7025]") != std::string::npos, error);
  BOOST_TEST(!parse_host_port("::1:7025", 7025, error).has_value());
  // Unambiguous: the part before the last colon is no address, or the last group is hex.
  for (const char* ok : {"::1", "2001:db8::25", "2001:db8::5:beef", "2001:db8:0:0:0:0:5:7025"}) {
    auto hp = parse_host_port(ok, 7025, error);
    BOOST_TEST_REQUIRE(hp.has_value(), ok << ": " << error);
    BOOST_TEST(hp->host == ok);
    BOOST_TEST(hp->port == 7025);
  }
  auto bracketed = parse_host_port("[2001:db8::5:7025]", 7025, error);
  BOOST_TEST_REQUIRE(bracketed.has_value());
  BOOST_TEST(bracketed->host == "2001:db8::5:7025");
}

BOOST_AUTO_TEST_CASE(port_lists) {
  std::string error;
  auto ports = parse_port_list("25,587,25,465", error);
  BOOST_TEST_REQUIRE(ports.has_value());
  BOOST_TEST((*ports == std::vector<std::uint16_t>{25, 587, 465}));
  for (const char* bad : {"", "25,", ",25", "25,,587", "0", "70000", "25;587", "x"})
    BOOST_TEST(!parse_port_list(bad, error).has_value(), bad);
  BOOST_TEST(!parse_port_list("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17", error).has_value());
}

BOOST_AUTO_TEST_CASE(check_options_parsed) {
  auto result = parse({"check", "--reflector", "[::1]:17025", "--ports=25,587", "--family", "both",
                       "--timeout", "2.5", "--no-trace", "--json"});
  auto* options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST(options->reflector_host == "::1");
  BOOST_TEST(options->control_port == 17025);
  BOOST_TEST((options->ports == std::vector<std::uint16_t>{25, 587}));
  BOOST_TEST((options->family == FamilyChoice::both));
  BOOST_TEST(options->timeout->count() == 2500);
  BOOST_TEST(!options->trace);
  BOOST_TEST(options->json);
}

// Short options where peers have them: -4/-6 (ping, curl), -p (nmap), -j, -q, -v.
BOOST_AUTO_TEST_CASE(short_options) {
  auto result = parse({"check", "--reflector", "r.example", "-6", "-p", "25", "-j"});
  auto* options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST((options->family == FamilyChoice::ipv6));
  BOOST_TEST((options->ports == std::vector<std::uint16_t>{25}));
  BOOST_TEST(options->json);
  result = parse({"check", "--reflector", "r.example", "-4", "-6", "-q"});
  options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST((options->family == FamilyChoice::both));
  BOOST_TEST(options->quiet);
  result = parse({"check", "--reflector", "r.example", "-4", "-v", "--show-transcript"});
  options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST((options->family == FamilyChoice::ipv4));
  BOOST_TEST(options->verbose);
  BOOST_TEST(options->show_transcript);
}

BOOST_AUTO_TEST_CASE(contradictions) {
  BOOST_TEST(usage_error({"check", "--reflector", "r", "-4", "--family", "6"}).find("-4 and -6") !=
             std::string::npos);
  BOOST_TEST(usage_error({"check", "--reflector", "r", "-q", "-v"}).find("contradict") !=
             std::string::npos);
  BOOST_TEST(
      usage_error({"check", "--reflector", "r", "-q", "--show-transcript"}).find("contradict") !=
      std::string::npos);
  BOOST_TEST(usage_error({"check", "--reflector", "r", "-j", "--show-transcript"})
                 .find(".evidence.client.transcript") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(defaults) {
  auto result = parse({"check", "--reflector", "r.example"});
  auto* options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST(options->control_port == 7025);
  BOOST_TEST(options->ports.empty());
  BOOST_TEST((options->family == FamilyChoice::automatic));
  BOOST_TEST(!options->timeout.has_value());
  BOOST_TEST(options->trace);
  BOOST_TEST(!options->json);
  BOOST_TEST(!options->quiet);
  BOOST_TEST(!options->verbose);
  BOOST_TEST(!options->show_transcript);
}

BOOST_AUTO_TEST_CASE(usage_errors) {
  BOOST_TEST(usage_error({}) == "no command given");
  BOOST_TEST(usage_error({"probe"}).find("unknown command") != std::string::npos);
  BOOST_TEST(usage_error({"check"}).find("--reflector") != std::string::npos);
  BOOST_TEST(usage_error({"check", "--reflector", "r", "--family", "7"}).find("--family") !=
             std::string::npos);
  for (const char* t : {"0", "-1", "301", "nan", "abc"})
    BOOST_TEST(!usage_error({"check", "--reflector", "r", "--timeout", t}).empty(), t);
  BOOST_TEST(!usage_error({"check", "--reflector", "r", "--trace", "--no-trace"}).empty());
  BOOST_TEST(!usage_error({"check", "--reflector", "r", "--bogus"}).empty());
  BOOST_TEST(!usage_error({"check", "--reflector", "r", "extra"}).empty());
  BOOST_TEST(!usage_error({"check", "--refl", "r"}).empty());  // no guessing of prefixes
}

BOOST_AUTO_TEST_CASE(help_and_version) {
  BOOST_TEST(std::holds_alternative<ShowHelp>(parse({"--help"})));
  BOOST_TEST(std::holds_alternative<ShowHelp>(parse({"check", "--help"})));
  auto version = parse({"--version"});
  BOOST_TEST_REQUIRE(std::holds_alternative<ShowVersion>(version));
  BOOST_TEST(std::get<ShowVersion>(version).text.rfind("egress25 ", 0) == 0);
}

BOOST_AUTO_TEST_CASE(target_forms) {
  std::string error;
  struct Row {
    const char* text;
    const char* name;
    bool is_address;
  };
  for (const Row& r : std::vector<Row>{{"example.org", "example.org", false},
                                       {"mx1.mail.example.org.", "mx1.mail.example.org.", false},
                                       {"localhost", "localhost", false},
                                       {"[192.0.2.7]", "192.0.2.7", true},
                                       {"[2001:db8::25]", "2001:db8::25", true},
                                       {"192.0.2.7", "192.0.2.7", true},
                                       {"2001:db8::25", "2001:db8::25", true}}) {
    auto target = parse_target(r.text, error);
    BOOST_TEST_REQUIRE(target.has_value(), r.text << ": " << error);
    BOOST_TEST(target->name == r.name);
    BOOST_TEST(target->is_address == r.is_address, r.text);
  }
  for (const char* bad :
       {"", "[", "[]", "[example.org]", "[192.0.2.7]:25", "example.org:25", "a..b", "-bad.example",
        "bad-.example", "two words", "exa$mple.org", ".", "[2001:db8::25"}) {
    error.clear();
    BOOST_TEST(!parse_target(bad, error).has_value(), "'" << bad << "' accepted");
    BOOST_TEST(!error.empty(), "'" << bad << "' without a reason");
  }
}

BOOST_AUTO_TEST_CASE(target_options) {
  auto result = parse({"check", "--reflector", "r.example", "--target", "[2001:db8::25]"});
  auto* options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST_REQUIRE(options->target.has_value());
  BOOST_TEST(options->target->name == "2001:db8::25");
  BOOST_TEST(options->target->is_address);
  BOOST_TEST(options->target_port == 25);

  result = parse(
      {"check", "--reflector", "r.example", "--target=example.org", "--target-port", "10025"});
  options = std::get_if<CheckOptions>(&result);
  BOOST_TEST_REQUIRE(options != nullptr);
  BOOST_TEST(options->target->name == "example.org");
  BOOST_TEST(!options->target->is_address);
  BOOST_TEST(options->target_port == 10025);

  result = parse({"check", "--reflector", "r.example"});
  BOOST_TEST(!std::get<CheckOptions>(result).target.has_value());

  BOOST_TEST(
      usage_error({"check", "--reflector", "r", "--target", "[nonsense]"}).find("--target") !=
      std::string::npos);
  BOOST_TEST(usage_error({"check", "--reflector", "r", "--target", "example.org:25"})
                 .find("--target-port") != std::string::npos);
  BOOST_TEST(
      !usage_error({"check", "--reflector", "r", "--target", "example.org", "--target-port", "0"})
           .empty());
  BOOST_TEST(!usage_error({"check", "--reflector", "r", "--target", "example.org", "--target-port",
                           "65536"})
                  .empty());
  BOOST_TEST(
      usage_error({"check", "--reflector", "r", "--target-port", "2525"}).find("needs --target") !=
      std::string::npos);
  BOOST_TEST(!usage_error({"check", "--reflector", "r", "--target"}).empty());
}

BOOST_AUTO_TEST_CASE(inbound_options) {
  const auto options = [](std::vector<const char*> args) {
    args.insert(args.begin(), {"check", "--reflector", "r.example"});
    auto result = parse(std::move(args));
    auto* o = std::get_if<CheckOptions>(&result);
    BOOST_TEST_REQUIRE(o != nullptr);
    return *o;
  };
  auto none = options({});
  BOOST_TEST(!none.inbound);
  auto plain = options({"--inbound"});
  BOOST_TEST(plain.inbound);
  BOOST_TEST(plain.inbound_ports.empty());  // the reflector's smtp port
  BOOST_TEST(!plain.inbound_listen);
  // The list after a space, as after "=", and an option right after --inbound is one.
  auto listed = options({"--inbound", "25,587", "--inbound-listen"});
  BOOST_TEST((listed.inbound_ports == std::vector<std::uint16_t>{25, 587}));
  BOOST_TEST(listed.inbound_listen);
  auto equals = options({"--inbound=465"});
  BOOST_TEST((equals.inbound_ports == std::vector<std::uint16_t>{465}));
  auto then_json = options({"--inbound", "--json"});
  BOOST_TEST(then_json.inbound);
  BOOST_TEST(then_json.json);
  BOOST_TEST(usage_error({"check", "--reflector", "r.example", "--inbound-listen"}) ==
             "--inbound-listen needs --inbound");
  BOOST_TEST(
      usage_error({"check", "--reflector", "r.example", "--inbound=25,x"}).find("--inbound") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
