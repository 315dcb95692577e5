// CausalLM::pack_weights and the tied heads of Llama and GPT-2: the Linears hold packed
// weights, and a head tied to the embedding gets a packed copy (the lookup keeps f32 rows).
#include "nabla/core/error.h"
#include "nabla/models/causal_lm.h"
#include "nabla/models/gpt2.h"
#include "nabla/models/llama.h"
#include "nabla/nn/linear.h"

namespace nabla::models {

void CausalLM::pack_weights(WeightFormat format) {
  NABLA_CHECK(format != WeightFormat::F32, name(), ".pack_weights: f32 is the unpacked format");
  NABLA_CHECK(nn::pack_linear_weights(*this, format) > 0, name(),
              ".pack_weights: no f32 Linear weight left to pack (packed already?)");
}

void Llama::pack_weights(WeightFormat format) {
  CausalLM::pack_weights(format);
  if (!output) {
    packed_head_ = std::make_shared<const PackedWeight>(
        PackedWeight::pack(tp_ ? head_shard_ : tok_embeddings->weight, format));
  }
}

void Gpt2::pack_weights(WeightFormat format) {
  CausalLM::pack_weights(format);
  if (!lm_head) {
    packed_head_ = std::make_shared<const PackedWeight>(
        PackedWeight::pack(tp_ ? head_shard_ : wte->weight, format));
  }
}

}  // namespace nabla::models
