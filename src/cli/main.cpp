// The nabla program: dispatches to cmd_<name>.cpp through a table of subcommands; the one
// place that turns an Error into a message and an exit code.
#include <iostream>
#include <string>

#include "commands.h"
#include "nabla/core/error.h"
#include "nabla/dist/communicator.h"

namespace {

struct Command {
  const char* name;
  int (*run)(const nabla::cli::Args&);
  const char* help;
};

constexpr Command kCommands[] = {
    {"generate", nabla::cli::cmd_generate, "prompt -> text streamed from a checkpoint"},
    {"shard", nabla::cli::cmd_shard, "a checkpoint -> N tensor-parallel shards (any rank count)"},
    {"tokenize", nabla::cli::cmd_tokenize, "text on stdin -> token ids on stdout (or --decode)"},
    {"prepare", nabla::cli::cmd_prepare, "text files -> tokenizer + train/val token shards"},
    {"train", nabla::cli::cmd_train, "pretrain a GPT-2 on a prepared dataset"},
    {"finetune", nabla::cli::cmd_finetune, "LoRA fine-tuning of a checkpoint -> PEFT adapter"},
    {"bench", nabla::cli::cmd_bench, "training-step and decode speed (ms/step, tokens/s, memory)"},
};

void usage(std::ostream& os) {
  os << "usage: nabla <command> [options]   (nabla <command> --help for its options)\n\n"
        "commands:\n";
  for (const Command& c : kCommands) os << "  " << c.name << "\t" << c.help << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return 0;
  }
  for (const Command& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(nabla::cli::Args(argv + 2, argv + argc));
    } catch (const nabla::Error& e) {
      std::cerr << "nabla " << name << ": error: " << e.what() << "\n";
      // Under mpirun a rank that fails alone must not leave the others waiting in a
      // collective (nor wait in MPI_Finalize for them): end the whole job.
      if (nabla::dist::Communicator::world_is_distributed()) {
        std::cerr.flush();
        nabla::dist::Communicator::world().abort(1);
      }
      return 1;
    }
  }
  std::cerr << "nabla: unknown command '" << name << "'\n";
  usage(std::cerr);
  return 2;
}
