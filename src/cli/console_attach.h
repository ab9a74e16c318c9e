#pragma once

#include <string>

#include "client/paddock_client.h"

namespace paddock::cli {

// Bridges this terminal to a VM's serial console until Ctrl-] (or, when stdin is not a terminal,
// until stdin ends and the console has been quiet for a moment).
Status attachConsole(PaddockClient& client, const std::string& vm, bool readOnly);

}  // namespace paddock::cli
