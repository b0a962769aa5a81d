// Unit tests of the secret-file rule both programs share: the whole file less one
// trailing newline.
#include "secret_file.hpp"

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <fstream>
#include <string>

#include "limits.hpp"

using namespace egress25;

namespace {

std::optional<std::string> from(std::string_view contents) {
  std::string error;
  return secret_from_file_contents(contents, error);
}

// A file under /tmp holding `contents`, removed at the end of the test.
struct TempFile {
  explicit TempFile(const std::string& contents) {
    char name[] = "/tmp/egress25-secret-test.XXXXXX";
    const int fd = ::mkstemp(name);
    BOOST_REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(secret_file)

BOOST_AUTO_TEST_CASE(one_trailing_newline_is_removed) {
  BOOST_TEST(*from("s3cret\n") == "s3cret");
  BOOST_TEST(*from("s3cret\r\n") == "s3cret");
  BOOST_TEST(*from("s3cret") == "s3cret");
  // Only one: a blank line after it is part of the file, hence of the secret.
  BOOST_TEST(*from("s3cret\n\n") == "s3cret\n");
}

BOOST_AUTO_TEST_CASE(nothing_else_is_trimmed) {
  // The case: a trailing second line. Both programs now read the same secret.
  BOOST_TEST(*from("s3cret\nsecond line\n") == "s3cret\nsecond line");
  BOOST_TEST(*from("  s3cret \t\n") == "  s3cret \t");
}

BOOST_AUTO_TEST_CASE(empty_and_oversized_are_errors) {
  std::string error;
  BOOST_TEST(!secret_from_file_contents("", error));
  BOOST_TEST(error == "is empty");
  BOOST_TEST(!secret_from_file_contents("\n", error));
  BOOST_TEST(!secret_from_file_contents("\r\n", error));
  const std::string at_cap(limits::max_secret_bytes, 'x');
  BOOST_TEST(from(at_cap + "\n")->size() == limits::max_secret_bytes);
  BOOST_TEST(!secret_from_file_contents(at_cap + "x", error));
  BOOST_TEST(error.find("over") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(reads_a_file_and_names_it_in_errors) {
  TempFile good("s3cret\nsecond\n");
  std::string error;
  BOOST_TEST(*read_secret_file(good.path, error) == "s3cret\nsecond");

  TempFile empty("\n");
  BOOST_TEST(!read_secret_file(empty.path, error));
  BOOST_TEST(error == "--secret-file '" + empty.path + "' is empty");

  TempFile huge(std::string(limits::max_secret_bytes * 4, 'x'));
  BOOST_TEST(!read_secret_file(huge.path, error));
  BOOST_TEST(error.find("is over") != std::string::npos);

  BOOST_TEST(!read_secret_file("/nonexistent/egress25-secret", error));
  BOOST_TEST(error == "cannot read --secret-file '/nonexistent/egress25-secret'");
}

BOOST_AUTO_TEST_SUITE_END()
