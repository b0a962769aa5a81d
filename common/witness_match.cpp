// placeholder: being written
#include "witness_match.hpp"
