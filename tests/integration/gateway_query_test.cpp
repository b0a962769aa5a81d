// The client's NAT-PMP query (client/gateway_query.cpp, libnatpmp) against NAT-PMP peers
// on loopback: a router that answers with its address, one that answers "network
// failure", and one that stays silent, which must read as silence, never as an address.
#define BOOST_TEST_MODULE gateway_query
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <thread>

#include "gateway_query.hpp"

using namespace egress25::client;

namespace {

// A NAT-PMP "router" on ADDRESS:5351 (RFC 6886): answers each public-address request
// with `result` and 198.51.100.7, or never answers (`silent`), until destroyed.
class Router {
 public:
  Router(const char* address, int result, bool silent) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(5351);
    ::inet_pton(AF_INET, address, &a.sin_addr);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    BOOST_TEST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    thread_ = std::thread([this, result, silent] { serve(result, silent); });
  }
  ~Router() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  int requests() const { return requests_; }

 private:
  void serve(int result, bool silent) {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      unsigned char in[16];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const auto n = ::recvfrom(fd_, in, sizeof in, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 2 || in[0] != 0 || in[1] != 0) continue;
      ++requests_;
      if (silent) continue;
      unsigned char out[12] = {0, 128, 0, static_cast<unsigned char>(result), 0, 0, 0, 1};
      ::inet_pton(AF_INET, "198.51.100.7", out + 8);
      ::sendto(fd_, out, sizeof out, 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  int fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stop_ = false;
  std::atomic<int> requests_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_router_that_answers_gives_its_address) {
  Router router("127.0.0.61", 0, false);
  const auto a = ask_natpmp("127.0.0.61", std::chrono::milliseconds(2000));
  BOOST_TEST(a.protocol == "NAT-PMP");
  BOOST_TEST(a.external_address.value_or("") == "198.51.100.7");
  BOOST_TEST(a.answered_by == "127.0.0.61");
}

BOOST_AUTO_TEST_CASE(network_failure_is_no_usable_address) {
  Router router("127.0.0.62", 3, false);
  const auto a = ask_natpmp("127.0.0.62", std::chrono::milliseconds(2000));
  BOOST_TEST(!a.external_address.has_value());
  BOOST_TEST(a.error.find("network failure") != std::string::npos, a.error);
}

BOOST_AUTO_TEST_CASE(silence_is_no_answer_within_the_budget) {
  Router router("127.0.0.63", 0, true);
  const auto start = std::chrono::steady_clock::now();
  const auto a = ask_natpmp("127.0.0.63", std::chrono::milliseconds(600));
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(!a.external_address.has_value());  // not "0.0.0.0"
  BOOST_TEST(a.error.find("no answer from 127.0.0.63 within 600 ms") != std::string::npos, a.error);
  BOOST_TEST(router.requests() >= 2);  // libnatpmp retried (250 ms, then 500 ms)
  BOOST_TEST(took < std::chrono::milliseconds(1500));
}

BOOST_AUTO_TEST_CASE(no_router_at_all_is_an_error_not_an_address) {
  // Nothing listens on 127.0.0.64:5351: ICMP port unreachable, at once.
  const auto a = ask_natpmp("127.0.0.64", std::chrono::milliseconds(600));
  BOOST_TEST(!a.external_address.has_value());
  BOOST_TEST(!a.error.empty());
}
