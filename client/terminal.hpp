// What the client knows of the terminal it writes to: whether there is one, and its width.
#pragma once

#include <cstddef>
#include <optional>

namespace egress25::client {

// True when `fd` is a terminal.
bool is_terminal(int fd);

// The width of the terminal on `fd` in columns; nullopt when it is none or does not say.
std::optional<std::size_t> terminal_width(int fd);

// The width to lay the human report out in: the terminal's when stdout is one, else a
// valid $COLUMNS, else 80; never below `min_report_width`. Pure.
inline constexpr std::size_t min_report_width = 40;
std::size_t report_width(std::optional<std::size_t> terminal, const char* columns_env);

}  // namespace egress25::client
