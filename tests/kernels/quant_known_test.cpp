// Hand-built blocks, byte by byte, with dequantized values worked out by hand from the
// documented layouts (kernels/blocks.h).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "test_util.h"

namespace dkb::kernels {
namespace {

using test::dequantized;

void set16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}

TEST(KnownBlocks, Q4_0) {
  uint8_t b[18] = {};
  set16(b, 0x3800);  // d = 0.5
  b[2 + 0] = 0x1F;   // elem 0 = 15, elem 16 = 1
  b[2 + 5] = 0x80;   // elem 5 = 0, elem 21 = 8
  const auto y = dequantized(TensorType::kQ4_0, b, 32);
  EXPECT_EQ(y[0], 3.5f);
  EXPECT_EQ(y[16], -3.5f);
  EXPECT_EQ(y[5], -4.0f);
  EXPECT_EQ(y[21], 0.0f);
  EXPECT_EQ(y[1], -4.0f);
}

TEST(KnownBlocks, Q4_1) {
  uint8_t b[20] = {};
  set16(b, 0x3800);      // d = 0.5
  set16(b + 2, 0xBC00);  // m = -1
  b[4 + 3] = 0x2A;       // elem 3 = 10, elem 19 = 2
  const auto y = dequantized(TensorType::kQ4_1, b, 32);
  EXPECT_EQ(y[3], 4.0f);
  EXPECT_EQ(y[19], 0.0f);
  EXPECT_EQ(y[0], -1.0f);
}

TEST(KnownBlocks, Q5_0) {
  uint8_t b[22] = {};
  set16(b, 0x3C00);  // d = 1
  const uint32_t qh = (1u << 0) | (1u << 16);
  std::memcpy(b + 2, &qh, 4);
  b[6 + 0] = 0x21;  // elem 0 = 1|16, elem 16 = 2|16
  const auto y = dequantized(TensorType::kQ5_0, b, 32);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[16], 2.0f);
  EXPECT_EQ(y[1], -16.0f);
}

TEST(KnownBlocks, Q5_1) {
  uint8_t b[24] = {};
  set16(b, 0x3400);      // d = 0.25
  set16(b + 2, 0x3C00);  // m = 1
  const uint32_t qh = 1u << 31;
  std::memcpy(b + 4, &qh, 4);
  b[8 + 15] = 0xF0;  // elem 15 = 0, elem 31 = 15|16
  const auto y = dequantized(TensorType::kQ5_1, b, 32);
  EXPECT_EQ(y[31], 8.75f);
  EXPECT_EQ(y[15], 1.0f);
}

TEST(KnownBlocks, Q8_0) {
  uint8_t b[34] = {};
  set16(b, 0x3000);  // d = 0.125
  b[2 + 5] = static_cast<uint8_t>(-7);
  b[2 + 31] = 127;
  const auto y = dequantized(TensorType::kQ8_0, b, 32);
  EXPECT_EQ(y[5], -0.875f);
  EXPECT_EQ(y[31], 15.875f);
}

TEST(KnownBlocks, Q2_K) {
  BlockQ2_K blk{};
  set16(reinterpret_cast<uint8_t*>(&blk.d), 0x3C00);     // 1
  set16(reinterpret_cast<uint8_t*>(&blk.dmin), 0x3800);  // 0.5
  blk.scales[0] = 0x21;                                  // scale 1, min 2
  blk.scales[2] = 0x13;                                  // scale 3, min 1
  blk.scales[6] = 0x05;                                  // scale 5, min 0
  blk.scales[9] = 0xF1;                                  // scale 1, min 15
  blk.qs[0] = 0xE4;   // 2-bit fields 0,1,2,3 for elements 0, 32, 64, 96
  blk.qs[49] = 0x02;  // element 128 + 16 + 1
  const auto y = dequantized(TensorType::kQ2_K, &blk, 256);
  EXPECT_EQ(y[0], -1.0f);
  EXPECT_EQ(y[32], 2.5f);
  EXPECT_EQ(y[96], 15.0f);
  EXPECT_EQ(y[145], -5.5f);
}

TEST(KnownBlocks, Q3_K) {
  BlockQ3_K blk{};
  set16(reinterpret_cast<uint8_t*>(&blk.d), 0x3800);  // 0.5
  blk.scales[0] = 0x05;                               // scale 0 low nibble 5
  blk.scales[8] = 0x42;  // scale 0 high bits 2 -> 37; scale 12 high bits 1
  blk.scales[4] = 0x70;  // scale 12 low nibble 7 -> 23
  blk.qs[0] = 0x03;
  blk.hmask[0] = 0x01;
  blk.qs[40] = 0x20;  // element 200: half 1, shift 4, l = 8
  blk.hmask[8] = 0x40;
  const auto y = dequantized(TensorType::kQ3_K, &blk, 256);
  EXPECT_EQ(y[0], 7.5f);     // 0.5 * (37-32) * 3
  EXPECT_EQ(y[1], -10.0f);   // 0.5 * 5 * (0-4)
  EXPECT_EQ(y[16], 64.0f);   // scale 1 = 0 -> -32; q = -4
  EXPECT_EQ(y[200], -9.0f);  // 0.5 * (23-32) * 2
}

BlockQ4_K q4_k_block() {
  BlockQ4_K blk{};
  set16(reinterpret_cast<uint8_t*>(&blk.d), 0x3C00);     // 1
  set16(reinterpret_cast<uint8_t*>(&blk.dmin), 0x3800);  // 0.5
  blk.scales[0] = 0x03;                                  // sc0 = 3
  blk.scales[4] = 0x02;                                  // m0 = 2
  blk.scales[1] = 0x01;                                  // sc1 = 1
  blk.scales[11] = 0x32;                                 // sc7 low 2, m7 low 3
  blk.scales[3] = 0x40;                                  // sc7 high bits 1 -> 18
  blk.scales[7] = 0x80;                                  // m7 high bits 2 -> 35
  blk.qs[0] = 0x7A;
  blk.qs[101] = 0x50;
  return blk;
}

TEST(KnownBlocks, Q4_K) {
  const BlockQ4_K blk = q4_k_block();
  const auto y = dequantized(TensorType::kQ4_K, &blk, 256);
  EXPECT_EQ(y[0], 29.0f);    // 3*10 - 0.5*2
  EXPECT_EQ(y[32], 7.0f);    // 1*7 - 0
  EXPECT_EQ(y[229], 72.5f);  // high nibble of qs[101], scale 7: 18*5 - 0.5*35
  EXPECT_EQ(y[197], 0.0f);   // low nibble of qs[101], scale 6 = 0
}

TEST(KnownBlocks, Q5_K) {
  const BlockQ4_K q4 = q4_k_block();
  BlockQ5_K blk{};
  blk.d = q4.d;
  blk.dmin = q4.dmin;
  std::memcpy(blk.scales, q4.scales, 12);
  std::memcpy(blk.qs, q4.qs, 128);
  blk.qh[0] = 0x01;
  blk.qh[5] = 0x80;
  const auto y = dequantized(TensorType::kQ5_K, &blk, 256);
  EXPECT_EQ(y[0], 77.0f);  // 3*26 - 1
  EXPECT_EQ(y[32], 7.0f);
  EXPECT_EQ(y[229], 360.5f);  // 18*21 - 17.5
}

TEST(KnownBlocks, Q6_K) {
  BlockQ6_K blk{};
  set16(reinterpret_cast<uint8_t*>(&blk.d), 0x3800);  // 0.5
  blk.ql[0] = 0x0F;
  blk.qh[0] = 0x03;
  blk.scales[0] = 2;
  blk.ql[17] = 0x10;
  blk.scales[5] = -3;
  blk.ql[97] = 0xA0;
  blk.qh[33] = 0x80;
  blk.scales[14] = 7;
  const auto y = dequantized(TensorType::kQ6_K, &blk, 256);
  EXPECT_EQ(y[0], 31.0f);
  EXPECT_EQ(y[81], 46.5f);
  EXPECT_EQ(y[225], 35.0f);
  EXPECT_EQ(y[1], -32.0f);  // ql = qh = 0: q - 32 = -32, times 0.5 * 2
}

TEST(KnownBlocks, FloatTypes) {
  const uint16_t h[2] = {0x3C00, 0xC000};
  EXPECT_EQ(dequantized(TensorType::kF16, h, 2), (std::vector<float>{1.0f, -2.0f}));
  const uint16_t b[2] = {0x3F80, 0xC040};
  EXPECT_EQ(dequantized(TensorType::kBF16, b, 2), (std::vector<float>{1.0f, -3.0f}));
}

TEST(KnownQuantizers, Q8_0RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = -63.5f;
  x[2] = 2.5f;
  BlockQ8_0 blk;
  quantize_row(TensorType::kQ8_0, x.data(), &blk, 32);
  EXPECT_EQ(blk.d, 0x3C00);
  EXPECT_EQ(blk.qs[0], 127);
  EXPECT_EQ(blk.qs[1], -64);
  EXPECT_EQ(blk.qs[2], 3);
  EXPECT_EQ(blk.qs[3], 0);
}

TEST(KnownQuantizers, Q8_1SumField) {
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[20] = -27.0f;
  BlockQ8_1 blk;
  quantize_row(TensorType::kQ8_1, x.data(), &blk, 32);
  EXPECT_EQ(blk.d, 0x3C00);
  EXPECT_EQ(blk.qs[20], -27);
  EXPECT_EQ(fp16_to_fp32(blk.s), 100.0f);
}

TEST(KnownQuantizers, Q8_KUsesNegativeScaleAndBsums) {
  std::vector<float> x(256, 0.0f);
  x[0] = 2.54f;
  x[17] = -1.27f;
  x[255] = 0.5f;
  BlockQ8_K blk;
  quantize_row(TensorType::kQ8_K, x.data(), &blk, 256);
  const float iscale = -127.f / 2.54f;
  EXPECT_EQ(blk.d, 1 / iscale);
  EXPECT_LT(blk.d, 0.0f);
  EXPECT_EQ(blk.qs[0], -127);
  EXPECT_EQ(blk.qs[17], 64);  // nearest_int(63.5) rounds half to even
  EXPECT_EQ(blk.bsums[0], -127);
  EXPECT_EQ(blk.bsums[1], 64);
  EXPECT_EQ(blk.bsums[15], blk.qs[255]);
  std::vector<float> zeros(256, 0.0f);
  quantize_row(TensorType::kQ8_K, zeros.data(), &blk, 256);
  EXPECT_EQ(blk.d, 0.0f);
  EXPECT_EQ(blk.bsums[3], 0);
}

TEST(KnownQuantizers, Q4_0PicksSignedMax) {
  std::vector<float> x(32, 0.0f);
  x[0] = -8.0f;  // d = -8 / -8 = 1
  x[1] = 7.0f;
  x[16] = 3.4f;
  BlockQ4_0 blk;
  quantize_row(TensorType::kQ4_0, x.data(), &blk, 32);
  EXPECT_EQ(fp16_to_fp32(blk.d), 1.0f);
  const auto y = dequantized(TensorType::kQ4_0, &blk, 32);
  EXPECT_EQ(y[0], -8.0f);
  EXPECT_EQ(y[1], 7.0f);
  EXPECT_EQ(y[16], 3.0f);
  EXPECT_EQ(y[2], 0.0f);
}

}  // namespace
}  // namespace dkb::kernels
