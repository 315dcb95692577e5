// Batched text completion with a KV cache: the twin of Meta's llama example_text_completion.py
// (Llama.build, then text_completion on a batch of prompts, each printed with "> " before its
// completion). Defaults follow that script: temperature 0.6, top_p 0.9, max_seq_len 128,
// max_gen_len 64, max_batch_size 4. Run: ./build/text_completion --ckpt ../shared/data/
// stories260K.bin --tokenizer ../shared/data/tok512.bin [--temperature 0] [--seed 7]
#include <cstdio>
#include <string>
#include <vector>

#include "example_util.h"
#include "nabla/nabla.h"

int main(int argc, char** argv) {
  return examples::run("text_completion", [&] {
    const examples::Args args(argc, argv, {"ckpt", "tokenizer", "temperature", "top_p",
                                           "max_seq_len", "max_gen_len", "max_batch_size", "seed"});
    NABLA_CHECK(args.has("ckpt") && args.has("tokenizer"), "--ckpt and --tokenizer are required");
    nabla::generation::Llama generator = nabla::generation::Llama::build(
        args.get_string("ckpt", ""), args.get_string("tokenizer", ""),
        args.get_int("max_seq_len", 128), args.get_int("max_batch_size", 4));
    const std::vector<std::string> prompts = {
        "Once upon a time",
        "Lily and Ben went to the park. They saw",
        "The little dog was sad because",
    };
    nabla::generation::GenerateOptions options;
    options.max_gen_len = args.get_int("max_gen_len", 64);
    options.temperature = args.get_double("temperature", 0.6);
    options.top_p = args.get_double("top_p", 0.9);
    options.seed = static_cast<uint64_t>(args.get_int("seed", 0));
    const auto results = generator.text_completion(prompts, options);
    for (size_t i = 0; i < prompts.size(); ++i) {
      std::printf("%s\n> %s\n\n==================================\n\n", prompts[i].c_str(),
                  results[i].generation.c_str());
    }
  });
}
