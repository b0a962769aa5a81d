// placeholder: being written
#include "control_protocol.hpp"
