// What the client knows of the terminal it writes to: whether there is one, and its width.
#include "terminal.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <string_view>

namespace egress25::client {

bool is_terminal(int fd) {
  return ::isatty(fd) == 1;
}

std::optional<std::size_t> terminal_width(int fd) {
  if (!is_terminal(fd)) return std::nullopt;
  winsize size{};
  if (::ioctl(fd, TIOCGWINSZ, &size) != 0 || size.ws_col == 0) return std::nullopt;
  return size.ws_col;
}

std::size_t report_width(std::optional<std::size_t> terminal, const char* columns_env) {
  // The classic width when nothing says otherwise: what `ls -C` and `man` use off a
  // terminal.
  std::size_t width = 80;
  if (terminal) {
    width = *terminal;
  } else if (columns_env) {
    std::string_view text(columns_env);
    std::size_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc{} && end == text.data() + text.size() && value > 0 && value < 10000)
      width = value;
  }
  return std::max(width, min_report_width);
}

}  // namespace egress25::client
