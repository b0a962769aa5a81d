// placeholder: being written
#include "transcript.hpp"
