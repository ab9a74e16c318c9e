// paddock: the command line of Paddock. `paddock <noun> <verb>`, tables for people, --json for
// scripts, one error line and a meaningful exit code on failure.
#include <signal.h>

#include <cstdio>

#include "cli/cli_context.h"

using namespace paddock::cli;

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CliContext ctx;
  CLI::App app{"paddock: run and manage virtual machines on paddockd", "paddock"};
  app.require_subcommand(1);
  app.set_version_flag("--version", PADDOCK_VERSION);
  app.add_option("--host", ctx.host,
                 "paddockd to talk to: a unix socket path or HOST:PORT "
                 "(default $PADDOCK_HOST, $PADDOCK_SOCKET, /var/lib/paddock/paddockd.sock)");
  app.add_option("--token-file", ctx.tokenFile,
                 "bearer token file for a TCP host ($PADDOCK_TOKEN_FILE)");
  app.add_flag("--json", ctx.json, "print JSON for scripts");
  app.fallthrough();
  addVmCommands(app, ctx);
  addHostCommands(app, ctx);
  addImageCommands(app, ctx);
  addApplyCommand(app, ctx);
  addEventCommands(app, ctx);
  addNetworkCommands(app, ctx);
  addStatsCommands(app, ctx);
  addResourceCommands(app, ctx);
  addTemplateCommands(app, ctx);
  addCustomizationCommands(app, ctx);
  addSnapshotCommands(app, ctx);
  addBackupCommands(app, ctx);
  addBenchCommand(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "paddock: error: %s (see paddock --help)\n", e.what());
    return kUsage;
  } catch (const ExitStatus& s) {
    return s.code;
  }
  return kOk;
}
