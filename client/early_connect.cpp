// A probe's TCP connect: started beside the control connection (early), or by the probe.
#include "early_connect.hpp"

#include <boost/log/trivial.hpp>

#include "control_client.hpp"
#include "icmp_error_queue.hpp"
#include "net_types.hpp"

namespace egress25::client {

namespace net = boost::asio;
using net::ip::tcp;

std::shared_ptr<EarlyConnect> start_early_connect(const net::any_io_executor& executor,
                                                  net::ip::address address, std::uint16_t port) {
  auto early = std::make_shared<EarlyConnect>(executor, address, port);
  early->finished.expires_at(std::chrono::steady_clock::time_point::max());
  boost::system::error_code ec;
  early->socket.open(address.is_v4() ? tcp::v4() : tcp::v6(), ec);
  if (ec) {
    early->setup_error = error_text(ec);
    early->done = true;
    return early;
  }
  std::string queue_error;
  const Family family = address.is_v4() ? Family::ipv4 : Family::ipv6;
  if (!enable_error_queue(early->socket.native_handle(), family, queue_error))
    BOOST_LOG_TRIVIAL(debug) << "connect to port " << port
                             << ": no ICMP error queue: " << queue_error;
  // Asio sends the SYN inside async_connect itself: the clock starts there, not when a
  // coroutine would next be scheduled (the reflector counts the session from it).
  early->started = std::chrono::steady_clock::now();
  early->started_unix_ms = unix_ms_now();
  early->socket.async_connect(
      tcp::endpoint(address, port), [early](const boost::system::error_code& result) {
        early->error = result;
        early->connect_ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - early->started)
                                .count();
        early->done = true;
        early->finished.cancel();
      });
  return early;
}

void abandon(EarlyConnect& early) {
  boost::system::error_code ignored;
  early.socket.close(ignored);
}

}  // namespace egress25::client
