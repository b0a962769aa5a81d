// The router's external address over NAT-PMP (libnatpmp) and UPnP-IGD (miniupnpc).
#include "gateway_query.hpp"

#include <arpa/inet.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
// Debian builds libnatpmp with strnatpmperr; its header declares it only on request.
#define ENABLE_STRNATPMPERR 1
#include <natpmp.h>
#include <poll.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "io_deadline.hpp"
#include "limits.hpp"

namespace egress25::client {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

GatewayAnswer ask_natpmp(const std::string& gateway, milliseconds budget) {
  GatewayAnswer answer;
  answer.protocol = "NAT-PMP";
  in_addr gw{};
  if (inet_pton(AF_INET, gateway.c_str(), &gw) != 1) {
    answer.error = "the default gateway '" + gateway + "' is not an IPv4 address";
    return answer;
  }
  natpmp_t n{};
  if (int r = initnatpmp(&n, 1, gw.s_addr); r < 0) {
    answer.error = std::string("could not ask: ") + strnatpmperr(r);
    return answer;
  }
  const auto deadline = steady_clock::now() + budget;
  // r is 0 only once a response has been read: a zeroed natpmpresp_t looks like a public
  // address answer of 0.0.0.0, which must never stand for silence.
  const int sent = sendpublicaddressrequest(&n);
  int r = sent < 0 ? sent : NATPMP_TRYAGAIN;
  natpmpresp_t response{};
  while (r == NATPMP_TRYAGAIN) {
    // libnatpmp retries on its own schedule (250 ms, doubling); the deadline is ours.
    timeval retry{};
    getnatpmprequesttimeout(&n, &retry);
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now()).count();
    if (left <= 0) break;
    const long wait = std::min<long>(left, retry.tv_sec * 1000L + retry.tv_usec / 1000L + 1);
    pollfd p{n.s, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(wait));
    r = readnatpmpresponseorretry(&n, &response);
  }
  closenatpmp(&n);
  if (r == 0 && response.type == NATPMP_RESPTYPE_PUBLICADDRESS) {
    char text[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &response.pnu.publicaddress.addr, text, sizeof text);
    answer.external_address = text;
    answer.answered_by = gateway;
  } else if (r == NATPMP_TRYAGAIN) {
    answer.error =
        "no answer from " + gateway + " within " + std::to_string(budget.count()) + " ms";
  } else if (r == NATPMP_ERR_NETWORKFAILURE) {
    answer.answered_by = gateway;
    answer.error = gateway +
                   " answered 'network failure': it has no usable external address (routers "
                   "say so when theirs is private or shared, or not yet set)";
  } else {
    answer.error = gateway + ": " + strnatpmperr(r);
  }
  return answer;
}

namespace {

// "http://192.0.2.1:5000/ctl/IPConn" → "192.0.2.1".
std::string url_host(const char* url) {
  std::string u = url ? url : "";
  const auto start = u.find("://");
  if (start == std::string::npos) return "";
  u = u.substr(start + 3);
  if (!u.empty() && u.front() == '[') return u.substr(1, u.find(']') - 1);
  return u.substr(0, u.find_first_of(":/"));
}

}  // namespace

GatewayAnswer ask_upnp_igd(const std::string& local_address, const std::string& gateway,
                           milliseconds discovery) {
  GatewayAnswer answer;
  answer.protocol = "UPnP-IGD";
  int error = 0;
  // TTL 2, miniupnpc's default: SSDP stays on this link and the one behind the router.
  UPNPDev* devices = upnpDiscover(static_cast<int>(discovery.count()), local_address.c_str(),
                                  nullptr, UPNP_LOCAL_PORT_ANY, 0, 2, &error);
  if (!devices) {
    answer.error =
        "no UPnP device answered discovery within " + std::to_string(discovery.count()) + " ms";
    return answer;
  }
  UPNPUrls urls{};
  IGDdatas data{};
  char lan_address[64] = {};
  const int found = UPNP_GetValidIGD(devices, &urls, &data, lan_address, sizeof lan_address);
  freeUPNPDevlist(devices);
  if (found == 0 || found == 3) {
    if (found == 3) FreeUPNPUrls(&urls);
    answer.error = "UPnP devices answered, but none is an Internet Gateway Device";
    return answer;
  }
  const auto host = url_host(urls.controlURL);
  if (host != gateway) {
    FreeUPNPUrls(&urls);
    answer.error = "the Internet Gateway Device that answered is at " + host +
                   ", not this computer's default gateway " + gateway +
                   ": its external address says nothing about this path";
    return answer;
  }
  char external[64] = {};
  const int r = UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, external);
  FreeUPNPUrls(&urls);
  answer.answered_by = host;
  if (r != UPNPCOMMAND_SUCCESS) {
    const char* why = strupnperror(r);
    answer.error = host + " refused GetExternalIPAddress (" +
                   (why ? std::string(why) : "error " + std::to_string(r)) + ")";
    return answer;
  }
  answer.external_address = std::string(external);
  return answer;
}

namespace {

// What the threads and the waiting coroutine share. The coroutine's timer is touched
// only on its own executor, and only while the coroutine still waits (`abandoned` false).
struct Shared {
  std::mutex mutex;
  std::vector<std::optional<GatewayAnswer>> answers;
  int pending = 0;
  bool abandoned = false;
};

}  // namespace

net::awaitable<std::vector<GatewayAnswer>> ask_gateway(std::string local_address,
                                                       std::string gateway) {
  auto executor = co_await net::this_coro::executor;
  auto shared = std::make_shared<Shared>();
  net::steady_timer timer(executor, limits::gateway_query_budget);
  auto* waiting = &timer;
  auto done = [shared, executor, waiting](std::size_t i, GatewayAnswer a) {
    std::lock_guard lock(shared->mutex);
    shared->answers[i] = std::move(a);
    if (--shared->pending == 0 && !shared->abandoned)
      net::post(executor, [shared, waiting] {
        std::lock_guard inner(shared->mutex);
        if (!shared->abandoned) waiting->cancel();
      });
  };
  const std::vector<std::string> protocols{"NAT-PMP", "UPnP-IGD"};
  shared->answers.resize(protocols.size());
  shared->pending = static_cast<int>(protocols.size());
  std::thread([done, gateway] { done(0, ask_natpmp(gateway, limits::natpmp_budget)); }).detach();
  std::thread([done, local_address, gateway] {
    done(1, ask_upnp_igd(local_address, gateway, limits::upnp_discovery_wait));
  }).detach();

  co_await timer.async_wait(io::as_result);
  std::vector<GatewayAnswer> answers;
  std::lock_guard lock(shared->mutex);
  shared->abandoned = true;
  for (std::size_t i = 0; i < protocols.size(); ++i) {
    if (shared->answers[i]) {
      answers.push_back(*shared->answers[i]);
    } else {
      GatewayAnswer late;
      late.protocol = protocols[i];
      late.error = "no answer within " +
                   std::to_string(milliseconds(limits::gateway_query_budget).count()) + " ms";
      answers.push_back(std::move(late));
    }
  }
  co_return answers;
}

}  // namespace egress25::client
