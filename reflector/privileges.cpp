// Running without privilege once everything that needs it is open.
#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace egress25::reflector {

namespace {

std::string sys_error(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

// Empties the permitted, effective and inheritable sets of the calling thread, and the
// ambient set. Call before other threads exist: capability sets are per thread.
bool clear_capabilities(std::string& error) {
  (void)::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);  // absent before 4.3
  cap_t none = cap_init();                                           // all three sets empty
  if (none == nullptr) {
    error = sys_error("cap_init");
    return false;
  }
  const int rc = cap_set_proc(none);
  cap_free(none);
  if (rc != 0) {
    error = sys_error("clearing capabilities");
    return false;
  }
  cap_t now = cap_get_proc();
  if (now == nullptr) {
    error = sys_error("cap_get_proc");
    return false;
  }
  cap_t empty = cap_init();
  const bool cleared = empty != nullptr && cap_compare(now, empty) == 0;
  cap_free(empty);
  cap_free(now);
  if (!cleared) {
    error = "capabilities are still held after clearing them";
    return false;
  }
  return true;
}

}  // namespace

bool drop_privileges(const std::string& user, std::string& error) {
  const bool root = ::geteuid() == 0 || ::getuid() == 0;
  if (!root) {
    if (!user.empty()) {
      const passwd* pw = ::getpwnam(user.c_str());
      if (pw == nullptr || pw->pw_uid != ::getuid()) {
        error = "switching to user '" + user + "' needs root";
        return false;
      }
    }
    // A binary given file capabilities (setcap cap_net_raw+ep) holds them without root:
    // give them up. With none held this changes nothing.
    return clear_capabilities(error);
  }

  // Root must become someone else: uid 0 without capabilities still owns the system's
  // files. "nobody" is the conventional account for a daemon that needs nothing.
  const std::string name = user.empty() ? std::string("nobody") : user;
  errno = 0;
  const passwd* pw = ::getpwnam(name.c_str());
  if (pw == nullptr) {
    error = errno ? sys_error("looking up user '" + name + "'") : "no user named '" + name + "'";
    return false;
  }
  if (pw->pw_uid == 0) {
    error = "user '" + name + "' is root; name an unprivileged user";
    return false;
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;

  // While still root (CAP_SETPCAP): empty the bounding set so nothing executed later
  // (a setuid binary) can hand capabilities back, and refuse new privileges outright.
  // Best effort: a root without CAP_SETPCAP (some containers) cannot, and
  // PR_SET_NO_NEW_PRIVS below closes the same door.
  for (cap_value_t c = 0; CAP_IS_SUPPORTED(c); ++c) (void)cap_drop_bound(c);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    error = sys_error("PR_SET_NO_NEW_PRIVS");
    return false;
  }
  // Order matters: supplementary groups and the group need privilege, so the user goes
  // last. glibc applies each change to every thread of the process.
  if (::setgroups(1, &gid) != 0) {
    error = sys_error("setgroups");
    return false;
  }
  if (::setresgid(gid, gid, gid) != 0) {
    error = sys_error("setgid to " + std::to_string(gid));
    return false;
  }
  if (::setresuid(uid, uid, uid) != 0) {
    error = sys_error("setuid to '" + name + "'");
    return false;
  }
  // Verify: no way back to root, and no capability left (setuid away from 0 clears
  // them unless PR_SET_KEEPCAPS was set, which is not ours to trust).
  if (::setuid(0) == 0 || ::seteuid(0) == 0 || ::getuid() == 0 || ::geteuid() == 0) {
    error = "root privileges could be regained after switching to '" + name + "'";
    return false;
  }
  if (::setgid(0) == 0 && gid != 0) {
    error = "group root could be regained after switching to '" + name + "'";
    return false;
  }
  return clear_capabilities(error);
}

}  // namespace egress25::reflector
