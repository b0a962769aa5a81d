// Running without privilege once everything that needs it is open.
#pragma once

#include <string>

namespace egress25::reflector {

// After the ports are bound and the capture is open: switch to `user` (when running as
// root) and give up every capability. Returns false with `error` on failure; the
// caller must not go on with privileges it meant to drop.
// As root with an empty `user`, switches to "nobody". Not root: `user` must be empty or
// the current user; capabilities (e.g. from setcap) are cleared all the same. Call it
// before starting threads (the witness's start()): capability sets are per thread.
// Open file descriptors (the capture, bound sockets) stay usable.
bool drop_privileges(const std::string& user, std::string& error);

}  // namespace egress25::reflector
