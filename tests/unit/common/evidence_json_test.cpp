// placeholder: being written
#include <boost/test/unit_test.hpp>
