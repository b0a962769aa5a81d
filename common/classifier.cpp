// placeholder: being written
#include "classifier.hpp"
