// placeholder: being written
#include "smtp_reply_parser.hpp"
