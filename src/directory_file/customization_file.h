// Reading a guest customization spec from YAML (`paddock customization create NAME --file F`).
#pragma once

#include <string>

#include "common/result.h"
#include "model/customization_spec.h"

namespace paddock {

// The spec in `text`; errors are one line, `<source>:<line>: <key path>: <message>`, with the key
// path as Error.field. See docs/customization.md for the format.
Result<CustomizationSpec> parseCustomizationYaml(const std::string& text,
                                                 const std::string& source);

}  // namespace paddock
