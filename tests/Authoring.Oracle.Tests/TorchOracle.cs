// TorchSharp as the numerical oracle for parity tests.
using TorchSharp;

namespace Authoring.Oracle.Tests;

/// <summary>Builds tensors from plain arrays, runs PyTorch ops and reads results back.</summary>
public static class TorchOracle
{
    static TorchOracle()
    {
        // The machine has 2 cores; the benchmarks and PEERS.md use the same setting.
        torch.set_num_threads(2);
    }

    /// <summary>Runs the one-time setup (thread count); every other member also triggers it.</summary>
    public static void EnsureInitialized() { }
}
