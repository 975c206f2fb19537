// The `ladle` command line: each subcommand lives in its own file and registers itself on the app here.
#pragma once

namespace CLI {
class App;
}

namespace ladle::cli {

void add_version_command(CLI::App& app);
void add_inspect_command(CLI::App& app);
void add_tokenizer_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_extract_lora_command(CLI::App& app);
void add_cluster_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_soup_command(CLI::App& app);
void add_wise_ft_command(CLI::App& app);
void add_posthoc_ema_command(CLI::App& app);
void add_merge_checkpoints_command(CLI::App& app);
void add_dtm_command(CLI::App& app);
void add_evolve_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);

}  // namespace ladle::cli
