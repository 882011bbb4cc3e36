#include <gtest/gtest.h>

#include "kernels/kernels.h"

TEST(KernelsSmoke, Links) { EXPECT_EQ(dkb::kernels::fp16_to_fp32(0x3C00), 1.0f); }
