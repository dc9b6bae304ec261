// tracemark: the command line for embedding and verifying distillation watermarks.
// Exit status: 0 success, 2 bad input or usage (the message says what, where and what to do),
// 1 an internal error (a bug: please report it).
#include <iostream>

#include "commands.hpp"
#include "tracemark/error.hpp"
#include "version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tracemark: keyed watermarks that reveal distillation of a protected model"};
  app.set_version_flag("--version", std::string(tracemark::cli::kVersion) + " (build " + tracemark::cli::kBuildId + ")");
  app.require_subcommand(1);
  tracemark::cli::add_keygen_command(app);
  tracemark::cli::add_key_command(app);
  tracemark::cli::add_keyring_command(app);
  tracemark::cli::add_detect_command(app);
  tracemark::cli::add_synth_command(app);
  tracemark::cli::add_scan_command(app);
  tracemark::cli::add_train_command(app);
  tracemark::cli::add_generate_command(app);
  tracemark::cli::add_distill_command(app);
  tracemark::cli::add_perplexity_command(app);
  tracemark::cli::add_attack_command(app);
  tracemark::cli::add_reading_command(app);
  tracemark::cli::add_tokenize_command(app);
  tracemark::cli::add_serve_command(app);
  tracemark::cli::add_probe_command(app);
  tracemark::cli::add_evidence_command(app);
  tracemark::cli::add_simulate_command(app);
  tracemark::cli::add_campaigns_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    return status == 0 ? 0 : 2;
  } catch (const tracemark::Error& e) {
    std::cerr << "tracemark: error: " << e.what() << "\n";
    return e.code() == tracemark::ErrorCode::internal ? 1 : 2;
  } catch (const std::exception& e) {
    std::cerr << "tracemark: internal error: " << e.what() << " (please report this)\n";
    return 1;
  }
  return 0;
}
