// Guards the second run of the kernel tests in scripts/test.sh: when it asks for the 256-bit paths
// (AUTHORING_EXPECT_SIMD=256 beside DOTNET_EnableAVX512=0), the runtime must really have turned
// Vector512 off, or that run would silently test the 512-bit paths twice (the knob's name changed
// between .NET versions once already).
using System.Runtime.Intrinsics;

namespace Authoring.Runtime.Tests.Cpu;

public class SimdSettingTests
{
    [Fact]
    public void VectorWidthIsTheOneTheRunAskedFor()
    {
        switch (Environment.GetEnvironmentVariable("AUTHORING_EXPECT_SIMD"))
        {
            case "256":
                Assert.False(Vector512.IsHardwareAccelerated, "AUTHORING_EXPECT_SIMD=256 but Vector512 is accelerated: the AVX-512 switch did not take.");
                Assert.True(Vector256.IsHardwareAccelerated, "the 256-bit paths need AVX2");
                break;
            case "512":
                Assert.True(Vector512.IsHardwareAccelerated, "AUTHORING_EXPECT_SIMD=512 but Vector512 is not accelerated.");
                break;
        }
    }
}
