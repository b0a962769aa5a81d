// Boost.Test entry point for the unit tests.
#define BOOST_TEST_MODULE egress25 unit tests
#include <boost/test/unit_test.hpp>
