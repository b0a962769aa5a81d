// Listening sockets: binding every configured address and port at start, the accept
// loop, and the caps on concurrent connections.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fair_share.hpp"
#include "net_types.hpp"
#include "options.hpp"

namespace egress25::reflector {

namespace net = boost::asio;
using tcp = net::ip::tcp;

// A failure to start: printed as it is, and the process exits 1.
struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class ListenerRole { smtp, smtps, control };

struct BoundListener {
  tcp::acceptor acceptor;
  ListenerRole role;
  std::string name;  // "0.0.0.0:25", "[::]:25"
};

// "1.2.3.4:25" / "[2001:db8::1]:25".
std::string endpoint_text(const tcp::endpoint& e);
// The address as an operator writes it: an IPv4-mapped IPv6 address becomes plain IPv4.
net::ip::address unmapped(const net::ip::address& a);
Family family_of(const net::ip::address& a);

// The start-up error for a port that cannot be bound, naming address, port and reason,
// e.g. "cannot listen on 0.0.0.0:25: permission denied (needs CAP_NET_BIND_SERVICE or
// root; try --port-offset 10000)".
std::string bind_error_text(const std::string& address, std::uint16_t port,
                            const boost::system::error_code& ec);

// Binds every configured address × port. Throws StartupError naming the first failure.
// An IPv6 wildcard that is only there by default is skipped, with a warning, on a host
// without IPv6.
std::vector<BoundListener> bind_listeners(const net::any_io_executor& executor,
                                          const Options& options);

// The last words to a connection refused for the reflector's own limits, by listener
// role: on SMTP a 421 in place of the greeting (RFC 5321 3.8, 4.2.5) carrying the banner
// identity, so a client tells the reflector's own refusal from a stranger's; on the
// control port an error frame `busy`; on implicit TLS nothing, as no plaintext may be
// said there. `why` is the cap's sentence.
std::string refusal_farewell(ListenerRole role, std::string_view hostname, std::string_view why);

// Sends `bytes` if the socket takes them at once, then closes it. Never waits: a
// refused peer holds no coroutine, timer or buffer. A fresh connection's send buffer is
// empty, so a short farewell fits; what the peer already sent is read and dropped first,
// so that the close sends a FIN after the farewell rather than a reset that may destroy
// it.
void say_and_close(tcp::socket& socket, std::string_view bytes);

// Accepts until the acceptor is closed, handing each connection the table admits to
// `serve` with its slot. A connection refused is passed to `refuse` with the cap's
// sentence; what it returns is said to the peer (say_and_close) and the connection closed
// at once. `shed` hears how many connections were closed to make room for a newcomer.
using ServeFunction = std::function<void(tcp::socket socket, ConnectionTable::Slot slot)>;
using RefuseFunction =
    std::function<std::string(const tcp::endpoint& peer, const std::string& why)>;
using ShedFunction = std::function<void(const tcp::endpoint& peer, std::size_t shed)>;
net::awaitable<void> accept_loop(BoundListener& listener, ConnectionTable& table,
                                 ServeFunction serve, RefuseFunction refuse = {},
                                 ShedFunction shed = {});

}  // namespace egress25::reflector
