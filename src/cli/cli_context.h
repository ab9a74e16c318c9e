// State shared by every `paddock` command: how to reach paddockd and how to print.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/paddock_client.h"

namespace paddock::cli {

// Thrown by a command to end the program with `code` after it has printed its error.
struct ExitStatus {
  int code;
};

// Exit codes scripts can rely on.
enum ExitCode {
  kOk = 0,
  kFailed = 1,  // the request was refused or the operation failed
  kUsage = 2,   // bad command line
  kNotFound = 3,
  kConflict = 4,     // wrong state (running, exists)
  kUnreachable = 5,  // paddockd cannot be reached
};

class CliContext {
 public:
  std::string host;
  std::string tokenFile;
  bool json = false;

  PaddockClient& client();
  // Prints "paddock: error: <message>" and throws ExitStatus with the code for `error`.
  [[noreturn]] void fail(const Error& error);
  // Unwraps a Result or fails with its error.
  template <typename T>
  T must(Result<T> r) {
    if (!r) fail(r.error());
    return std::move(r.value());
  }

 private:
  std::unique_ptr<PaddockClient> client_;
};

// Runs an operation-returning request and waits for it, with a progress bar, unless `noWait`
// (then returns the operation). Fails the command if the request or the operation fails.
// Ctrl-C while waiting cancels the operation and waits for the daemon to undo it.
nlohmann::json runOperation(CliContext& ctx, const std::string& label, const std::string& path,
                            const nlohmann::json& body, bool noWait);

// The live-migration tuning flags (--max-downtime, --bandwidth, --auto-converge) into an API
// body; a bad value fails the command naming the flag.
void addLiveTuning(CliContext& ctx, nlohmann::json& body, const std::string& maxDowntime,
                   const std::string& bandwidth, bool autoConverge);

void addVmCommands(CLI::App& app, CliContext& ctx);
void addHostCommands(CLI::App& app, CliContext& ctx);
void addImageCommands(CLI::App& app, CliContext& ctx);
void addBenchCommand(CLI::App& app, CliContext& ctx);
void addApplyCommand(CLI::App& app, CliContext& ctx);
void addEventCommands(CLI::App& app, CliContext& ctx);
void addNetworkCommands(CLI::App& app, CliContext& ctx);
// vm stats, vm chart, host stats, host metrics and top; after the vm and host commands.
void addStatsCommands(CLI::App& app, CliContext& ctx);
// vm set: resource controls.
void addResourceCommands(CLI::App& app, CliContext& ctx);
void addTemplateCommands(CLI::App& app, CliContext& ctx);
void addCustomizationCommands(CLI::App& app, CliContext& ctx);
// vm snapshot ...; after the vm commands.
void addSnapshotCommands(CLI::App& app, CliContext& ctx);
void addBackupCommands(CLI::App& app, CliContext& ctx);

}  // namespace paddock::cli
