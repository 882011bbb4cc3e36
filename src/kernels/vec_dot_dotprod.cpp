// NEON dot products of the quantized types with sdot (ARMv8.2-A dotprod; compiled with
// -march=armv8.2-a+dotprod, reached only when the CPU reports it: dispatch_arm64.cpp). The
// kernels are vec_dot_neon_impl.h's, so results are bit-identical to vec_dot_neon.cpp's.
#if !defined(__ARM_FEATURE_DOTPROD)
#error "vec_dot_dotprod.cpp must be compiled with +dotprod (cmake/dkb_module.cmake)"
#endif

#include "vec_dot_neon_impl.h"

namespace dkb::kernels::detail {

VecDotFn vec_dot_dotprod(TensorType t) {
  return quantized_dot(t);
}

}  // namespace dkb::kernels::detail
