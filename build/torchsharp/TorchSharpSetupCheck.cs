// Compiled into every project that imports build/TorchSharp.targets. When the build could not patch
// TorchSharp's native library because g++/patchelf/readelf are missing (warning AUTTORCH001), it left
// torchsharp-setup-missing.txt in the output folder; the first use of this assembly then throws that
// text, so each TorchSharp test fails saying which script installs the tools rather than with a
// loader error about GLIBCXX_3.4.32.
#pragma warning disable CA2255 // a module initializer is the one hook that runs before any test touches TorchSharp

namespace Authoring.Build;

static class TorchSharpSetupCheck
{
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void Check()
    {
        string marker = System.IO.Path.Combine(System.AppContext.BaseDirectory, "torchsharp-setup-missing.txt");
        if (System.IO.File.Exists(marker))
            throw new System.InvalidOperationException(System.IO.File.ReadAllText(marker).Trim());
    }
}
