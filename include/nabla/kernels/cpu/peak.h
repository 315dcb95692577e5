// The arithmetic peak of this machine's cores, measured: what model FLOP utilisation (MFU) is
// reported against. Each thread of the pool runs independent chains of vector multiply-adds
// from registers, so the figure is what the cores sustain, not a datasheet's number.
#pragma once

namespace nabla::kernels::cpu {

/// f32 fused multiply-add throughput of all threads of the pool, GFLOP/s (2 flops per lane),
/// measured for about `seconds`.
double f32_fma_peak_gflops(double seconds);

/// bf16 dot-product throughput (AVX512-BF16's vdpbf16ps: pairs of bf16 products summed into
/// f32), GFLOP/s, measured for about `seconds`; 0 where the build has no such instruction.
double bf16_dot_peak_gflops(double seconds);

}  // namespace nabla::kernels::cpu
