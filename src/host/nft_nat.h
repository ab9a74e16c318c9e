// NAT for one network as its own nftables table (`ip` family): masquerade of the subnet's
// outgoing traffic, DNAT port forwards, forward accepts, and IPv4 forwarding switched on.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "host/net_host.h"

namespace paddock::host {

// nftables identifiers we accept for table names: [A-Za-z_][A-Za-z0-9_]{0,63}.
bool validNftName(const std::string& name);

// The `nft -f` script that replaces table `config.table` in one transaction (it creates the
// table if missing, deletes it and recreates it with the rules).
Result<std::string> renderNatScript(const NatConfig& config);

// Applies renderNatScript and sets net.ipv4.ip_forward=1 in the current network namespace.
Status applyNat(const NatConfig& config);
// Deletes the table; succeeds when there is none.
Status deleteNatTable(const std::string& table);
// Names of `ip` family tables starting with `prefix`; empty if nft cannot be run.
std::vector<std::string> natTables(const std::string& prefix);

}  // namespace paddock::host
