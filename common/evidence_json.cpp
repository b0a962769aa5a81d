// placeholder: being written
#include "evidence_json.hpp"
