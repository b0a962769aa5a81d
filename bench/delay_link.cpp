// delay_link: a point-to-point link with a fixed one-way delay, in user space (this
// kernel has no netem). One process holds two TUN devices, each created inside its own
// network namespace, and forwards every IP packet read from one to the other after the
// delay, through a bounded queue per direction (drop-tail, counted).
//
//   delay_link --dev-a to_vps [--netns-a /run/netns/A] --dev-b to_home
//              --netns-b /run/netns/B --delay-ms 50 [--queue-packets N] [--queue-bytes N]
//
// The devices are made inside their namespaces (setns, TUNSETIFF, setns back), so they
// never exist in the namespace the process runs in unless asked; they are not
// persistent, so they vanish with the process. The caller configures them (addresses,
// up) once "ready" is printed. SIGTERM or SIGINT ends it with exit 0 and one line of
// counters per direction on stdout; a device that fails (its namespace deleted) ends it
// with exit 1.
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "timed_queue.hpp"

namespace egress25::bench {
namespace {

namespace net = boost::asio;
namespace po = boost::program_options;
using net::awaitable;
using net::use_awaitable;
constexpr auto use_tuple = net::as_tuple(use_awaitable);

// A TUN read returns one packet; 64 KiB holds the largest an MTU can allow.
constexpr std::size_t max_packet = 65536;

struct Options {
  std::string dev_a, netns_a, dev_b, netns_b;
  double delay_ms = 0;
  TimedQueue::Limits limits{};
  bool realtime = true;
};

// A packet is due at a set time, and a timer that wakes late is a longer delay. On a
// busy machine a normal task can wait a scheduler slice (milliseconds) after its timer
// fires; a real-time one runs at once. The link sleeps between packets, so it costs the
// machine nothing it would not spend anyway. Without the privilege it runs as it is.
std::string schedule_for_timing(bool realtime) {
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // no coalescing of our wake-ups
  if (!realtime) return "normal scheduling";
  sched_param param{};
  param.sched_priority = 10;
  if (::sched_setscheduler(0, SCHED_FIFO, &param) == 0) return "SCHED_FIFO 10";
  return std::string("normal scheduling (SCHED_FIFO: ") + std::strerror(errno) + ")";
}

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

FileDescriptor open_or_throw(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail_errno("open " + path);
  return FileDescriptor(fd);
}

int make_tun(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ)
    throw std::invalid_argument("device name '" + name + "' is empty or too long");
  FileDescriptor fd = open_or_throw("/dev/net/tun", O_RDWR | O_NONBLOCK);
  ifreq request{};
  // IFF_NO_PI: bare IP packets, no 4-byte header; no IFF_VNET_HDR, so no offloads and
  // every packet is at most the MTU.
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &request) < 0) fail_errno("TUNSETIFF " + name);
  return fd.release();
}

// The TUN device NAME, created in the namespace at NETNS (or this one): a device belongs
// to the namespace of the thread that creates it.
int make_tun_in(const std::string& name, const std::string& netns) {
  if (netns.empty()) return make_tun(name);
  FileDescriptor home = open_or_throw("/proc/self/ns/net", O_RDONLY);
  FileDescriptor target = open_or_throw(netns, O_RDONLY);
  if (::setns(target.get(), CLONE_NEWNET) < 0) fail_errno("setns " + netns);
  int fd = -1;
  try {
    fd = make_tun(name);
  } catch (...) {
    ::setns(home.get(), CLONE_NEWNET);
    throw;
  }
  if (::setns(home.get(), CLONE_NEWNET) < 0) fail_errno("setns back");
  return fd;
}

// One direction: packets read from `in` are written to `out` once due.
class Direction {
 public:
  Direction(net::io_context& io, std::string name, int in_fd, int out_fd,
            TimedQueue::clock::duration delay, TimedQueue::Limits limits)
      : name_(std::move(name)),
        in_(io, in_fd),
        out_fd_(out_fd),
        timer_(io),
        queue_(delay, limits) {}

  awaitable<void> read_loop() {
    std::vector<std::uint8_t> buffer(max_packet);
    for (;;) {
      auto [ec, n] = co_await in_.async_read_some(net::buffer(buffer), use_tuple);
      if (ec == net::error::operation_aborted && stopping_) co_return;
      // The device is gone (its namespace deleted) or broken: the link is down, and a
      // link that forwards one way only must not pass for a working one.
      if (ec) throw std::runtime_error(name_ + ": read: " + ec.message());
      const bool was_empty = queue_.empty();
      if (queue_.push({buffer.data(), n}, TimedQueue::clock::now()) && was_empty)
        timer_.cancel();  // wake the writer, which sleeps without a deadline when idle
    }
  }

  awaitable<void> write_loop() {
    for (;;) {
      const auto now = TimedQueue::clock::now();
      while (auto packet = queue_.pop_due(now)) write(*packet);
      if (stopping_) co_return;
      const auto next = queue_.next_release();
      timer_.expires_at(next ? *next : TimedQueue::clock::time_point::max());
      co_await timer_.async_wait(use_tuple);  // a cancel means a packet arrived, or stop
    }
  }

  void stop() {
    stopping_ = true;
    in_.cancel();
    timer_.cancel();
  }

  std::string counters_line() const {
    const auto& c = queue_.counters();
    return "delay_link: " + name_ + ": forwarded " + std::to_string(c.forwarded_packets) +
           " packets " + std::to_string(c.forwarded_bytes) + " bytes, dropped (queue full) " +
           std::to_string(c.dropped_packets) + " packets " + std::to_string(c.dropped_bytes) +
           " bytes, dropped (write failed) " + std::to_string(write_failures_) + ", still queued " +
           std::to_string(queue_.packets());
  }

 private:
  void write(const std::vector<std::uint8_t>& packet) {
    // A TUN write hands the packet to the stack and does not block; a failure (the
    // device is down, a malformed packet) loses that packet, as a wire would.
    if (::write(out_fd_, packet.data(), packet.size()) < 0) ++write_failures_;
  }

  std::string name_;
  net::posix::stream_descriptor in_;
  int out_fd_;
  net::steady_timer timer_;
  TimedQueue queue_;
  std::uint64_t write_failures_ = 0;
  bool stopping_ = false;
};

std::optional<Options> parse(int argc, char** argv, int& exit_code) {
  po::options_description desc(
      "usage: delay_link --dev-a NAME [--netns-a PATH] --dev-b NAME [--netns-b PATH] "
      "--delay-ms MS [options]\nOptions");
  Options o;
  // clang-format off
  desc.add_options()
    ("dev-a", po::value(&o.dev_a)->required(), "first TUN device's name")
    ("netns-a", po::value(&o.netns_a), "its namespace (e.g. /run/netns/NAME; default: this one)")
    ("dev-b", po::value(&o.dev_b)->required(), "second TUN device's name")
    ("netns-b", po::value(&o.netns_b), "its namespace")
    ("delay-ms", po::value(&o.delay_ms)->required(), "one-way delay in milliseconds, each way")
    // About a Linux device's default txqueuelen; the lab's traffic is a few connections.
    ("queue-packets", po::value(&o.limits.max_packets)->default_value(1000),
     "packets queued per direction before drop-tail")
    ("queue-bytes", po::value(&o.limits.max_bytes)->default_value(4 << 20),
     "bytes queued per direction before drop-tail")
    ("no-realtime", "do not ask for real-time scheduling (SCHED_FIFO), which keeps the delay exact on a busy machine")
    ("help,h", "this help");
  // clang-format on
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc;
      exit_code = 0;
      return std::nullopt;
    }
    po::notify(vm);
    o.realtime = vm.count("no-realtime") == 0;
  } catch (const po::error& e) {
    std::cerr << "delay_link: " << e.what() << "\n" << desc;
    exit_code = 2;
    return std::nullopt;
  }
  if (!(o.delay_ms >= 0 && o.delay_ms <= 60'000) || o.limits.max_packets == 0 ||
      o.limits.max_bytes < max_packet) {
    std::cerr << "delay_link: --delay-ms must be 0..60000, --queue-packets at least 1 and "
                 "--queue-bytes at least "
              << max_packet << "\n";
    exit_code = 2;
    return std::nullopt;
  }
  return o;
}

int run(const Options& o) {
  const int fd_a = make_tun_in(o.dev_a, o.netns_a);
  const int fd_b = make_tun_in(o.dev_b, o.netns_b);
  const auto delay = std::chrono::duration_cast<TimedQueue::clock::duration>(
      std::chrono::duration<double, std::milli>(o.delay_ms));

  net::io_context io(1);
  // Each descriptor is owned by the direction that reads it, and written by the other.
  Direction a_to_b(io, o.dev_a + "->" + o.dev_b, fd_a, fd_b, delay, o.limits);
  Direction b_to_a(io, o.dev_b + "->" + o.dev_a, fd_b, fd_a, delay, o.limits);
  net::signal_set signals(io, SIGTERM, SIGINT);
  int exit_code = 0;
  auto stop_all = [&] {
    signals.cancel();
    a_to_b.stop();
    b_to_a.stop();
  };
  // A failure in either direction ends the whole link, with exit status 1.
  auto on_exit = [&](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      std::cerr << "delay_link: " << x.what() << "\n";
    }
    exit_code = 1;
    stop_all();
  };
  for (Direction* d : {&a_to_b, &b_to_a}) {
    net::co_spawn(io, d->read_loop(), on_exit);
    net::co_spawn(io, d->write_loop(), on_exit);
  }
  signals.async_wait([&](const boost::system::error_code& ec, int) {
    if (!ec) stop_all();
  });
  const std::string scheduling = schedule_for_timing(o.realtime);
  std::cout << "ready: " << o.dev_a << " <-> " << o.dev_b << ", one-way delay " << o.delay_ms
            << " ms, queue " << o.limits.max_packets << " packets / " << o.limits.max_bytes
            << " bytes per direction, " << scheduling << std::endl;
  io.run();
  std::cout << a_to_b.counters_line() << "\n" << b_to_a.counters_line() << std::endl;
  return exit_code;
}

}  // namespace
}  // namespace egress25::bench

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = egress25::bench::parse(argc, argv, exit_code);
  if (!options) return exit_code;
  try {
    return egress25::bench::run(*options);
  } catch (const std::exception& e) {
    std::cerr << "delay_link: " << e.what() << "\n";
    return 1;
  }
}
