// Each subcommand lives in its own file and registers itself on the root CLI11 app. Commands parse
// options into a struct and call only the public library API.
#pragma once

#include <CLI/CLI.hpp>

namespace tracemark::cli {

void add_keygen_command(CLI::App& app);
void add_key_command(CLI::App& app);
// Keyrings (issue 15).
void add_keyring_command(CLI::App& app);
void add_detect_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_scan_command(CLI::App& app);

// Reference model (issue 4).
void add_train_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_distill_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
// What a distiller who knows about watermarks does to a harvest (issue 17).
void add_attack_command(CLI::App& app);
// `attack finetune`, a subcommand of `attack` (attack_finetune_command.cpp).
void add_attack_finetune_command(CLI::App& attack);
// Reading mode: a suspect's next token after prefixes of the harvest (issue 17).
void add_reading_command(CLI::App& app);

// Serving integration (issue 7).
void add_serve_command(CLI::App& app);
void add_probe_command(CLI::App& app);
// Evidence bundles (issue 6).
void add_evidence_command(CLI::App& app);
// Campaign discovery (issue 14).
void add_simulate_command(CLI::App& app);
void add_campaigns_command(CLI::App& app);

}  // namespace tracemark::cli
