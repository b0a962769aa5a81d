// Early connects: a TCP connect per (address, port) started beside the control connection.
#include "early_connect.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/log/trivial.hpp>

#include "icmp_error_queue.hpp"
#include "io_deadline.hpp"
#include "net_types.hpp"

namespace egress25::client {

namespace net = boost::asio;
using net::ip::tcp;

namespace {

net::awaitable<void> connect(std::shared_ptr<EarlyConnect> early) {
  auto [ec] = co_await early->socket.async_connect(tcp::endpoint(early->address, early->port),
                                                   io::as_result);
  early->error = ec;
  early->connect_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - early->started)
          .count();
  early->done = true;
  early->finished.cancel();
}

}  // namespace

std::shared_ptr<EarlyConnect> start_early_connect(const net::any_io_executor& executor,
                                                  net::ip::address address, std::uint16_t port) {
  auto early = std::make_shared<EarlyConnect>(executor, address, port);
  early->finished.expires_at(std::chrono::steady_clock::time_point::max());
  early->started = std::chrono::steady_clock::now();
  early->started_unix_ms = unix_ms_now();
  boost::system::error_code ec;
  early->socket.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (ec) {
    early->setup_error = ec.message();
    early->done = true;
    return early;
  }
  std::string queue_error;
  const Family family = address.is_v4() ? Family::ipv4 : Family::ipv6;
  if (!enable_error_queue(early->socket.native_handle(), family, queue_error))
    BOOST_LOG_TRIVIAL(debug) << "early connect to port " << port
                             << ": no ICMP error queue: " << queue_error;
  net::co_spawn(executor, connect(early), net::detached);
  return early;
}

void abandon(EarlyConnect& early) {
  boost::system::error_code ignored;
  early.socket.close(ignored);
}

}  // namespace egress25::client
