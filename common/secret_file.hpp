// The shared secret of a private reflector, read the same way by client and reflector.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace egress25 {

// The rule, for both programs: the secret is the whole file, less one trailing newline
// ("\n" or "\r\n", as `echo secret > file` and editors leave it). Nothing else is
// trimmed: spaces, tabs and inner lines are part of the secret, so a file means the same
// to both ends whatever it holds. An empty secret, or one over limits::max_secret_bytes,
// is an error.
std::optional<std::string> secret_from_file_contents(std::string_view contents, std::string& error);

// Reads `path` under that rule. nullopt with `error` (naming the file) when it cannot be
// read, is empty or is too long.
std::optional<std::string> read_secret_file(const std::string& path, std::string& error);

}  // namespace egress25
