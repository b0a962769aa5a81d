// Boost.Test entry point for the reflector's unit tests.
#define BOOST_TEST_MODULE egress25 reflector unit tests
#include <boost/test/unit_test.hpp>
