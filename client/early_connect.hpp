// A probe's TCP connect started before its plan is known: beside the control connection
// and HELLO, whose two round trips the probes then no longer wait for. The probe takes
// the socket over once HELLO has given it its tag (its first tagged byte is EHLO, or
// SNI on 465), and its time counts from the SYN.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "evidence.hpp"

namespace egress25::client {

struct EarlyConnect {
  EarlyConnect(const boost::asio::any_io_executor& executor, boost::asio::ip::address to,
               std::uint16_t to_port)
      : address(to), port(to_port), socket(executor), finished(executor) {}

  boost::asio::ip::address address;
  std::uint16_t port = 0;
  boost::asio::ip::tcp::socket socket;
  std::chrono::steady_clock::time_point started;
  std::int64_t started_unix_ms = 0;
  // Set once the connect has completed (or could not start); `finished` is cancelled then.
  bool done = false;
  boost::system::error_code error;
  std::string setup_error;  // the socket could not be opened: nothing was sent
  double connect_ms = 0;
  boost::asio::steady_timer finished;
  bool taken = false;  // a probe owns it
};

// Opens the socket (its ICMP error queue on) and sends the SYN. The connect runs until it
// completes or the socket is closed: the check closes every early connect no probe took,
// and a probe closes its own at its connect deadline. A probe not started early starts
// its connect here too, when it runs.
std::shared_ptr<EarlyConnect> start_early_connect(const boost::asio::any_io_executor& executor,
                                                  boost::asio::ip::address address,
                                                  std::uint16_t port);

// Closes it, which ends a connect still in flight.
void abandon(EarlyConnect& early);

}  // namespace egress25::client
