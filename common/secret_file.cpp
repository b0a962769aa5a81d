// The shared secret of a private reflector, read the same way by client and reflector.
#include "secret_file.hpp"

#include <fstream>

#include "limits.hpp"

namespace egress25 {

std::optional<std::string> secret_from_file_contents(std::string_view contents,
                                                     std::string& error) {
  if (contents.ends_with("\r\n")) {
    contents.remove_suffix(2);
  } else if (contents.ends_with('\n')) {
    contents.remove_suffix(1);
  }
  if (contents.empty()) {
    error = "is empty";
    return std::nullopt;
  }
  if (contents.size() > limits::max_secret_bytes) {
    error = "is over " + std::to_string(limits::max_secret_bytes) + " bytes";
    return std::nullopt;
  }
  return std::string(contents);
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read --secret-file '" + path + "'";
    return std::nullopt;
  }
  // One byte past the cap is enough to know the file is too long.
  std::string contents(limits::max_secret_bytes + 3, '\0');
  in.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  if (in.bad()) {
    error = "cannot read --secret-file '" + path + "'";
    return std::nullopt;
  }
  contents.resize(static_cast<std::size_t>(in.gcount()));
  std::string why;
  auto secret = secret_from_file_contents(contents, why);
  if (!secret) error = "--secret-file '" + path + "' " + why;
  return secret;
}

}  // namespace egress25
