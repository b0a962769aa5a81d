// placeholder: being written
#include "smtp_client_dialogue.hpp"
