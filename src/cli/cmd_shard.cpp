// nabla shard: a checkpoint -> a tensor-parallel checkpoint of N shards (io/tp_checkpoint.h).
// In one process the whole model is split N ways; under `mpirun -np N` every rank splits the
// model as `nabla generate` does and writes its own shard.
#include <iostream>
#include <memory>

#include "commands.h"
#include "flags.h"
#include "nabla/core/error.h"
#include "nabla/dist/communicator.h"
#include "nabla/generate/load.h"
#include "nabla/io/tp_checkpoint.h"
#include "nabla/models/tp_checkpoint.h"

namespace nabla::cli {
namespace {

constexpr const char* kUsage =
    "usage: nabla shard --model PATH --out DIR [--shards N]\n"
    "  Writes the model at PATH (any checkpoint nabla generate reads, a sharded one included)\n"
    "  as a tensor-parallel checkpoint: DIR/model-tp-0000R-of-0000N.safetensors (rank R's\n"
    "  slices of the split weights under their Hugging Face names), DIR/config.json and\n"
    "  DIR/model-tp.index.json, written last. nabla generate --model DIR loads it on any number\n"
    "  of ranks the model can be split over, one process included.\n"
    "  --shards: N, which must divide the number of key/value heads (default: the number of\n"
    "  ranks). In one process the model is split N ways; under mpirun -np N each rank writes\n"
    "  its own shard (--shards, if given, must be N).\n";

}  // namespace

int cmd_shard(const Args& args) {
  std::string model_path, out;
  int64_t shards = 0;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> const std::string& {
      NABLA_CHECK(i + 1 < args.size(), "shard: ", a, " needs a value\n", kUsage);
      return args[++i];
    };
    if (a == "--model") {
      model_path = value();
    } else if (a == "--out") {
      out = value();
    } else if (a == "--shards") {
      shards = parse_int("shard", a, value());
      NABLA_CHECK(
          shards >= 1 && shards <= io::kTpMaxShards, "shard: --shards must be in [1, ",
          io::kTpMaxShards, "], got ", shards);
    } else if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else {
      NABLA_CHECK(false, "shard: unknown argument '", a, "'\n", kUsage);
    }
  }
  NABLA_CHECK(
      !model_path.empty() && !out.empty(), "shard: --model and --out are required\n", kUsage);
  dist::Communicator& comm = dist::Communicator::world();
  dist::share_cores(comm);
  if (comm.is_distributed()) {
    NABLA_CHECK(
        shards == 0 || shards == comm.world_size(), "shard: --shards ", shards,
        " under mpirun -np ", comm.world_size(),
        ": each rank writes one shard (leave --shards out, or run one process)");
  }
  const std::shared_ptr<models::CausalLM> model = generation::load_causal_lm(model_path);
  if (comm.is_distributed()) {
    model->shard_for_tensor_parallel(comm);
    models::save_sharded(*model, out, comm);
    shards = comm.world_size();
  } else {
    if (shards == 0)
      shards = 1;
    models::save_sharded(*model, out, shards);
  }
  if (comm.rank() == 0) {
    std::cout << "wrote " << model->name() << " as " << shards << " tensor-parallel shard"
              << (shards == 1 ? "" : "s") << " to " << out << "\n";
  }
  return 0;
}

}  // namespace nabla::cli
